//! The sandbox image, built with no registry: `assets/sandbox/build-rootfs.sh` debootstraps a
//! minimal Debian with the packages of `assets/sandbox/packages.txt` into a tarball (cached by a
//! key of both files), which the Docker Engine API imports as `aetheria-sandbox:<key>` and the
//! bubblewrap backend unpacks. Machines with a registry can use `assets/sandbox/Dockerfile` instead.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use bollard::Docker;
use bollard::query_parameters::CreateImageOptions;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio_util::io::ReaderStream;

use crate::SandboxError;

/// The package list baked into the image.
pub const PACKAGES: &str = include_str!("../../assets/sandbox/packages.txt");
/// The root filesystem recipe.
pub const BUILD_SCRIPT: &str = include_str!("../../assets/sandbox/build-rootfs.sh");
/// Repository name of the image.
pub const REPOSITORY: &str = "aetheria-sandbox";

/// Progress of an image build.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Progress {
    /// A step of the root filesystem build, or a cache hit.
    Step { message: String },
    /// Bytes of the root filesystem sent to the engine.
    Import { sent: u64, total: u64 },
    /// The image is ready.
    Done { image: String },
}

/// A short key of the recipe: a change to the package list or the script makes a new image.
pub fn image_key() -> String {
    let digest = Sha256::digest(format!("{PACKAGES}\0{BUILD_SCRIPT}"));
    hex::encode(digest)[..12].to_string()
}

/// `aetheria-sandbox:<key>`.
pub fn image_ref() -> String {
    format!("{REPOSITORY}:{}", image_key())
}

/// Where the root filesystem tarball of this recipe is cached.
pub fn rootfs_tar(cache_dir: &Path) -> PathBuf {
    cache_dir.join(format!("rootfs-{}.tar", image_key()))
}

/// Whether the engine has this recipe's image.
pub async fn image_exists(docker: &Docker) -> Result<bool, SandboxError> {
    match docker.inspect_image(&image_ref()).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Builds the root filesystem tarball unless it is cached. Runs the recipe script (needs root and
/// a Debian mirror), reporting each step.
pub async fn build_rootfs(
    cache_dir: &Path,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<PathBuf, SandboxError> {
    let out = rootfs_tar(cache_dir);
    if out.exists() {
        progress(Progress::Step {
            message: format!("using the cached root filesystem {}", out.display()),
        });
        return Ok(out);
    }
    if !cfg!(target_os = "linux") {
        return Err(SandboxError::Build(format!(
            "the image is built with no registry only on Linux (debootstrap); here, start Docker and build it from the Dockerfile installed with Aetheria: `{}`",
            dockerfile_build_command()
        )));
    }
    tokio::fs::create_dir_all(cache_dir).await?;
    let recipe = tempfile::tempdir()?;
    let script = recipe.path().join("build-rootfs.sh");
    let packages = recipe.path().join("packages.txt");
    tokio::fs::write(&script, BUILD_SCRIPT).await?;
    tokio::fs::write(&packages, PACKAGES).await?;
    let mut child = Command::new("sh")
        .arg(&script)
        .arg(&packages)
        .arg(&out)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SandboxError::Build(format!("cannot run sh: {e}")))?;
    let mut stderr = child.stderr.take();
    let errors = tokio::spawn(async move {
        let mut text = String::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = stderr.read_to_string(&mut text).await;
        }
        text
    });
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            progress(Progress::Step { message: line });
        }
    }
    let status = child.wait().await?;
    let errors = errors.await.unwrap_or_default();
    if !status.success() || !out.exists() {
        return Err(SandboxError::Build(format!(
            "the root filesystem recipe failed ({status}): {}",
            errors.trim()
        )));
    }
    Ok(out)
}

/// The command that builds this recipe's image with Docker from the Dockerfile installed beside
/// the app (Windows: `<install>\sandbox`; macOS: `Aetheria.app/Contents/Resources/sandbox`), for
/// where it cannot be built with no registry.
pub fn dockerfile_build_command() -> String {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    let recipe = match exe_dir {
        Some(dir) if cfg!(target_os = "macos") => dir.join("../Resources/sandbox"),
        Some(dir) => dir.join("sandbox"),
        None => PathBuf::from("sandbox"),
    };
    format!("docker build -t {} \"{}\"", image_ref(), recipe.display())
}

/// Imports a root filesystem tarball as this recipe's image through the Engine API.
pub async fn import_rootfs(
    docker: &Docker,
    tar: &Path,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<String, SandboxError> {
    import_rootfs_as(docker, tar, REPOSITORY, progress).await
}

/// Imports a root filesystem tarball as `<repository>:<key>`.
pub async fn import_rootfs_as(
    docker: &Docker,
    tar: &Path,
    repository: &str,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<String, SandboxError> {
    let image = format!("{repository}:{}", image_key());
    let file = tokio::fs::File::open(tar).await?;
    let total = file.metadata().await?.len();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let mut sent = 0u64;
    let body = ReaderStream::with_capacity(file, 1 << 20).map(move |chunk| {
        if let Ok(bytes) = &chunk {
            sent += bytes.len() as u64;
            let _ = tx.send(sent);
        }
        chunk
    });
    let options = CreateImageOptions {
        from_src: Some("-".into()),
        repo: Some(repository.into()),
        tag: Some(image_key()),
        changes: vec![
            "WORKDIR /workspace".into(),
            "ENV LANG=C.UTF-8 HOME=/tmp".into(),
            "USER 1000:1000".into(),
        ],
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(options), Some(bollard::body_try_stream(body)), None);
    loop {
        tokio::select! {
            Some(sent) = rx.recv() => progress(Progress::Import { sent, total }),
            item = stream.next() => match item {
                Some(Ok(info)) => {
                    if let Some(error) = info.error_detail.and_then(|d| d.message) {
                        return Err(SandboxError::Build(error));
                    }
                }
                Some(Err(e)) => return Err(SandboxError::Build(e.to_string())),
                None => break,
            },
        }
    }
    if docker.inspect_image(&image).await.is_err() {
        return Err(SandboxError::Build(
            "the engine accepted the import but has no image afterwards".into(),
        ));
    }
    progress(Progress::Done {
        image: image.clone(),
    });
    Ok(image)
}

/// Makes sure the root filesystem tarball is cached (the bubblewrap backend and re-imports use
/// it) and the engine has the image, building and importing only what is missing.
pub async fn build_image(
    docker: &Docker,
    cache_dir: &Path,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<String, SandboxError> {
    let tar = build_rootfs(cache_dir, progress).await?;
    if image_exists(docker).await? {
        let image = image_ref();
        progress(Progress::Done {
            image: image.clone(),
        });
        return Ok(image);
    }
    import_rootfs(docker, &tar, progress).await
}

/// The root filesystem unpacked for the bubblewrap backend (`<cache>/rootfs-<key>/`), from the
/// cached tarball; unpacked once.
pub async fn unpacked_rootfs(cache_dir: &Path) -> Result<PathBuf, SandboxError> {
    // As root the sandbox drops to an unprivileged uid, which cannot enter root's home: unpack
    // where every user may read.
    let home = if crate::bwrap::running_as_root() {
        PathBuf::from("/var/cache/aetheria/sandbox")
    } else {
        cache_dir.to_path_buf()
    };
    let dir = home.join(format!("rootfs-{}", image_key()));
    if dir.join("usr/bin/python3").exists() {
        return Ok(dir);
    }
    let tar = rootfs_tar(cache_dir);
    if !tar.exists() {
        return Err(SandboxError::NoImage(format!(
            "{} (root filesystem {})",
            image_ref(),
            tar.display()
        )));
    }
    tokio::fs::create_dir_all(&home).await?;
    // Unpack beside the target and rename: concurrent first uses never see half a tree.
    let partial = tempfile::Builder::new()
        .prefix(".rootfs-")
        .tempdir_in(&home)?;
    let out = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(partial.path())
        .args(["--no-same-owner", "--exclude=./dev/*"])
        .output()
        .await
        .map_err(|e| SandboxError::Build(format!("cannot run tar: {e}")))?;
    if !out.status.success() {
        return Err(SandboxError::Build(format!(
            "unpacking {} failed: {}",
            tar.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let partial = partial.keep();
    if let Err(e) = tokio::fs::rename(&partial, &dir).await {
        let _ = tokio::fs::remove_dir_all(&partial).await;
        if !dir.join("usr/bin/python3").exists() {
            return Err(e.into());
        }
    }
    set_mode(&dir, 0o755)?;
    Ok(dir)
}

/// Makes the unpacked tree's top readable by the unprivileged sandbox user.
fn set_mode(dir: &Path, mode: u32) -> Result<(), SandboxError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))?;
    }
    let _ = (dir, mode);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_is_stable_and_short() {
        let key = super::image_key();
        assert_eq!(key.len(), 12);
        assert_eq!(key, super::image_key());
        assert!(super::image_ref().ends_with(&key));
        eprintln!("KEY {key}");
    }
}
