//! What differs per platform in the advice Aetheria gives (how to install Docker, start a
//! keychain, get a speech synthesiser): one function per piece of advice, one `cfg` branch per
//! platform, so the rest of the engine words its fixes the same everywhere.

/// How to get Docker running here.
pub(crate) fn docker_fix() -> &'static str {
    if cfg!(target_os = "macos") {
        "code runs need Docker: install Docker Desktop (or colima: `brew install colima docker && colima start`) and start it"
    } else if cfg!(windows) {
        "code runs need Docker: install Docker Desktop with the WSL 2 backend and start it"
    } else {
        "code runs need Docker: `sudo apt install docker.io` (Debian/Ubuntu) or `sudo dnf install moby-engine` (Fedora), then `sudo systemctl start docker` and add yourself to the docker group; without Docker, bubblewrap is used"
    }
}

/// How to make the sandbox's image here: with no registry on Linux (debootstrap needs root);
/// elsewhere Docker builds it from the Dockerfile installed beside the app.
pub(crate) fn sandbox_image_fix() -> String {
    if cfg!(target_os = "linux") {
        return "run `sudo aetheria sandbox build-image` (builds the image with no registry); until then code is not run".into();
    }
    format!(
        "start Docker, then build the image from the Dockerfile installed with Aetheria: `{}`; until then code is not run",
        aetheria_sandbox::image::dockerfile_build_command()
    )
}

/// How to get a working OS keychain here.
pub(crate) fn keychain_fix() -> &'static str {
    if cfg!(target_os = "macos") {
        "unlock the login keychain in Keychain Access; meanwhile keys can come from environment variables"
    } else if cfg!(windows) {
        "the Windows Credential Manager did not answer; sign in again, meanwhile keys can come from environment variables"
    } else {
        "install and unlock a Secret Service: `sudo apt install gnome-keyring` (it starts with your desktop session); meanwhile keys can come from environment variables"
    }
}

/// How to install the speech synthesiser that reads answers aloud.
pub(crate) fn espeak_fix() -> &'static str {
    if cfg!(target_os = "macos") {
        "`brew install espeak-ng`"
    } else if cfg!(windows) {
        "install eSpeak NG (espeak-ng.msi) and put it on PATH"
    } else {
        "`sudo apt install espeak-ng` (Debian/Ubuntu) or `sudo dnf install espeak-ng` (Fedora)"
    }
}
