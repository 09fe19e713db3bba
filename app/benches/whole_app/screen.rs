//! The screen as a person sees it, read from the X server: a private Xvfb for the run, what a
//! region shows (to tell the first non-blank frame and every later change), and the close button
//! of a window (`WM_DELETE_WINDOW`, what a window manager sends).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ClientMessageEvent, ConnectionExt, EventMask, ImageFormat, Window,
};
use x11rb::rust_connection::RustConnection;

/// The screen of the run's Xvfb.
pub const WIDTH: u16 = 1280;
/// Its height.
pub const HEIGHT: u16 = 800;

/// A private X server, stopped when dropped.
pub struct Xvfb {
    child: Child,
    /// `:N`.
    pub display: String,
}

impl Xvfb {
    /// Starts one on the first free display from :91 (black root, so an undrawn window is blank).
    pub fn start() -> Self {
        let n = (91..120)
            .find(|n| !std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists())
            .expect("a free X display number");
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([
                &display,
                "-screen",
                "0",
                &format!("{WIDTH}x{HEIGHT}x24"),
                "-br",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (apt-get install xvfb)");
        let socket = format!("/tmp/.X11-unix/X{n}");
        let start = Instant::now();
        while !std::path::Path::new(&socket).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "Xvfb did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, display }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection to the run's X server.
pub struct Screen {
    conn: RustConnection,
    root: Window,
}

/// A rectangle of the screen.
#[derive(Clone, Copy)]
pub struct Region {
    pub x: i16,
    pub y: i16,
    pub w: u16,
    pub h: u16,
}

impl Screen {
    /// Connects to `display`.
    pub fn open(display: &str) -> Self {
        let (conn, n) = x11rb::connect(Some(display)).expect("connect to Xvfb");
        let root = conn.setup().roots[n].root;
        Self { conn, root }
    }

    /// The pixels of `region` (32 bits each).
    pub fn grab(&self, r: Region) -> Vec<u8> {
        self.conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, r.x, r.y, r.w, r.h, !0)
            .ok()
            .and_then(|cookie| cookie.reply().ok())
            .map(|reply| reply.data)
            .unwrap_or_default()
    }

    /// Whether `region` shows anything but black.
    pub fn nonblank(&self, r: Region) -> bool {
        self.grab(r)
            .chunks_exact(4)
            .any(|px| px[0] != 0 || px[1] != 0 || px[2] != 0)
    }

    /// The top-level window of process `pid` (`_NET_WM_PID`), once it is mapped.
    pub fn window_of(&self, pid: u32) -> Option<Window> {
        let atom = self
            .conn
            .intern_atom(false, b"_NET_WM_PID")
            .ok()?
            .reply()
            .ok()?
            .atom;
        let tree = self.conn.query_tree(self.root).ok()?.reply().ok()?;
        tree.children.into_iter().find(|w| {
            self.conn
                .get_property(false, *w, atom, AtomEnum::CARDINAL, 0, 1)
                .ok()
                .and_then(|c| c.reply().ok())
                .and_then(|p| p.value32()?.next())
                == Some(pid)
        })
    }

    /// Presses the close button of `window`: the `WM_DELETE_WINDOW` message a window manager sends.
    pub fn close(&self, window: Window) {
        let atom = |name: &[u8]| {
            self.conn
                .intern_atom(false, name)
                .ok()
                .and_then(|c| c.reply().ok())
                .map(|r| r.atom)
        };
        let (Some(protocols), Some(delete)) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"))
        else {
            return;
        };
        let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
        let _ = self
            .conn
            .send_event(false, window, EventMask::NO_EVENT, event);
        let _ = self.conn.flush();
    }
}

/// Content hash of a region's pixels (to see it change).
pub fn digest(pixels: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    pixels.hash(&mut h);
    h.finish()
}
