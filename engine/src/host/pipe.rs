//! The endpoint on Windows: a named pipe whose security descriptor names this user as its owner
//! and the only one allowed in (no Everyone-may-read default), local clients only, and a client
//! that checks, before it says anything, that the pipe it opened is owned by its own user (so a
//! pipe another user made first under the same name is refused, not talked to).
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::os::windows::io::AsRawHandle;
use std::time::Duration;

use tokio::net::windows::named_pipe::{
    ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
};
use windows_sys::Win32::Foundation::{CloseHandle, ERROR_PIPE_BUSY, HANDLE, LocalFree};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo,
    SDDL_REVISION_1, SE_KERNEL_OBJECT,
};
use windows_sys::Win32::Security::{
    EqualSid, GetTokenInformation, OWNER_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID,
    SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER, TokenUser,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use super::connect::ConnectError;

/// How long a client waits while every instance of the pipe is busy (the host makes the next
/// one as soon as it has taken a connection).
const BUSY_WAIT: Duration = Duration::from_secs(5);

/// This process's user, as its token says.
struct User {
    /// The `TOKEN_USER` structure and the SID it points into.
    buffer: Vec<u64>,
}

impl User {
    fn current() -> std::io::Result<Self> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: the pseudo-handle of this process is always valid; `token` receives a handle
        // that is closed below.
        if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut needed = 0u32;
        // SAFETY: asks only for the size (a null buffer of length 0 is allowed).
        unsafe { GetTokenInformation(token, TokenUser, std::ptr::null_mut(), 0, &mut needed) };
        // u64s keep the structure aligned.
        let mut buffer = vec![0u64; (needed as usize).div_ceil(8).max(1)];
        // SAFETY: the buffer holds `needed` bytes, as the first call asked.
        let read = unsafe {
            GetTokenInformation(
                token,
                TokenUser,
                buffer.as_mut_ptr().cast::<c_void>(),
                needed,
                &mut needed,
            )
        };
        let error = std::io::Error::last_os_error();
        // SAFETY: `token` was opened above and is not used after this.
        unsafe { CloseHandle(token) };
        if read == 0 {
            return Err(error);
        }
        Ok(Self { buffer })
    }

    fn sid(&self) -> PSID {
        // SAFETY: the buffer holds the TOKEN_USER that GetTokenInformation wrote.
        unsafe { (*self.buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid }
    }

    /// The SID as text (`S-1-5-21-…`), for a security descriptor.
    fn sid_string(&self) -> std::io::Result<String> {
        let mut text: *mut u16 = std::ptr::null_mut();
        // SAFETY: the SID is valid while `self` lives; `text` receives a LocalAlloc'd string.
        if unsafe { ConvertSidToStringSidW(self.sid(), &mut text) } == 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `text` is a NUL-terminated UTF-16 string; it is freed once copied.
        let string = unsafe {
            let len = (0..).take_while(|&i| *text.add(i) != 0).count();
            let string = String::from_utf16_lossy(std::slice::from_raw_parts(text, len));
            LocalFree(text.cast());
            string
        };
        Ok(string)
    }
}

/// A security descriptor that makes this user the owner and the only one with access.
struct OwnOnly {
    descriptor: PSECURITY_DESCRIPTOR,
    attributes: SECURITY_ATTRIBUTES,
}

// SAFETY: the descriptor is owned by this value, never shared, and only read by the system.
unsafe impl Send for OwnOnly {}
// SAFETY: as above; nothing mutates it after creation.
unsafe impl Sync for OwnOnly {}

impl OwnOnly {
    fn new(user: &User) -> std::io::Result<Box<Self>> {
        let sid = user.sid_string()?;
        // Owner: this user; DACL, protected from inheritance: full access for this user alone.
        let sddl: Vec<u16> = format!("O:{sid}D:P(A;;GA;;;{sid})")
            .encode_utf16()
            .chain(Some(0))
            .collect();
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `sddl` is NUL-terminated; `descriptor` receives a LocalAlloc'd descriptor
        // freed on drop.
        let made = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if made == 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut own = Box::new(Self {
            descriptor,
            attributes: SECURITY_ATTRIBUTES {
                nLength: size_of::<SECURITY_ATTRIBUTES>() as u32,
                lpSecurityDescriptor: std::ptr::null_mut(),
                bInheritHandle: 0,
            },
        });
        own.attributes.lpSecurityDescriptor = own.descriptor;
        Ok(own)
    }
}

impl Drop for OwnOnly {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW.
        unsafe { LocalFree(self.descriptor) };
    }
}

/// The host's side: one pipe instance waits for the next client at any time.
pub(super) struct Listener {
    name: String,
    next: NamedPipeServer,
    security: Box<OwnOnly>,
}

impl Listener {
    /// Makes the first instance of `name`; fails when any process (another user's too) has a
    /// pipe of that name already.
    pub(super) fn bind(name: &str) -> std::io::Result<Self> {
        let security = OwnOnly::new(&User::current()?)?;
        let next = instance(name, true, &security)?;
        Ok(Self {
            name: name.to_owned(),
            next,
            security,
        })
    }

    /// The next client, once one connects. (Only this user can open the pipe: nothing more is
    /// checked per connection.)
    pub(super) async fn accept(&mut self) -> std::io::Result<NamedPipeServer> {
        self.next.connect().await?;
        let waiting = instance(&self.name, false, &self.security)?;
        Ok(std::mem::replace(&mut self.next, waiting))
    }
}

fn instance(name: &str, first: bool, security: &OwnOnly) -> std::io::Result<NamedPipeServer> {
    let attributes = std::ptr::from_ref(&security.attributes).cast_mut();
    // SAFETY: `attributes` points at a SECURITY_ATTRIBUTES whose descriptor lives as long as
    // the listener; the call only reads it.
    unsafe {
        ServerOptions::new()
            .first_pipe_instance(first)
            .reject_remote_clients(true)
            .create_with_security_attributes_raw(name, attributes.cast::<c_void>())
    }
}

/// Opens the pipe `name` and checks that this user owns it.
pub(super) async fn connect(name: &str) -> Result<NamedPipeClient, ConnectError> {
    let deadline = tokio::time::Instant::now() + BUSY_WAIT;
    let client = loop {
        match ClientOptions::new().open(name) {
            Ok(client) => break client,
            Err(e)
                if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32)
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(ConnectError::NoHost(format!("{name}: {e}"))),
        }
    };
    match owned_by_this_user(&client) {
        Ok(true) => Ok(client),
        Ok(false) => Err(ConnectError::Refused(format!(
            "{name} belongs to another user: it is not Aetheria's endpoint for this user"
        ))),
        Err(e) => Err(ConnectError::Refused(format!(
            "the owner of {name} cannot be read: {e}"
        ))),
    }
}

fn owned_by_this_user(client: &NamedPipeClient) -> std::io::Result<bool> {
    let user = User::current()?;
    let mut owner: PSID = std::ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    // SAFETY: the handle is the open pipe's; `owner` points into `descriptor`, which is freed
    // once the comparison is done.
    let status = unsafe {
        GetSecurityInfo(
            client.as_raw_handle(),
            SE_KERNEL_OBJECT,
            OWNER_SECURITY_INFORMATION,
            &mut owner,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut descriptor,
        )
    };
    if status != 0 {
        return Err(std::io::Error::from_raw_os_error(status as i32));
    }
    // SAFETY: both SIDs are valid here.
    let same = unsafe { EqualSid(owner, user.sid()) } != 0;
    // SAFETY: allocated by GetSecurityInfo.
    unsafe { LocalFree(descriptor) };
    Ok(same)
}
