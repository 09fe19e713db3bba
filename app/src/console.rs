//! The console window Windows gives a console program started from outside a terminal, let go
//! of by the window and by `serve` so no empty black window stays beside them.

/// On Windows the binary is a console program, so `aetheria ask` prints where it was typed; opened
/// from the Start menu (the window) or the Startup folder (`serve` at login) it gets a console
/// window of its own, which it does not need and which is let go of here (true then). A console
/// the person started it from stays.
#[cfg(windows)]
#[allow(unsafe_code)]
pub fn let_go_of_own_console() -> bool {
    use windows_sys::Win32::System::Console::{FreeConsole, GetConsoleProcessList};
    let mut processes = [0u32; 2];
    // SAFETY: the buffer is valid for the length given; the call only reads this process's
    // console's process list into it.
    let attached = unsafe { GetConsoleProcessList(processes.as_mut_ptr(), 2) };
    // SAFETY: detaches this process from its console; nothing holds a console handle here.
    attached == 1 && unsafe { FreeConsole() } != 0
}

#[cfg(not(windows))]
pub fn let_go_of_own_console() -> bool {
    false
}
