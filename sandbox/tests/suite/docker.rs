//! Docker-only behaviour on the real engine: labels and orphan removal, the registry-free image
//! import through the Engine API, network when allowed, and the container's hardening as Docker
//! reports it.

use aetheria_sandbox::{DockerHost, Pool, Sandbox, image};

use super::common::{NEED_IMAGE, run, skip, spec, workspace};

#[tokio::test(flavor = "multi_thread")]
async fn container_is_hardened_as_configured() {
    if skip("docker") {
        return;
    }
    let host = DockerHost::connect().await.expect(NEED_IMAGE);
    let docker = host.docker().clone();
    let sb = Pool::new(host);
    let ws = workspace();
    let id = sb.create(&spec("hardening", ws.path())).await.unwrap();
    let inspect = docker.inspect_container(&id.0, None).await.unwrap();
    let hc = inspect.host_config.unwrap();
    assert_eq!(hc.network_mode.as_deref(), Some("none"));
    assert_eq!(hc.readonly_rootfs, Some(true));
    assert_eq!(hc.cap_drop, Some(vec!["ALL".to_string()]));
    assert_eq!(
        hc.cap_add,
        Some(vec!["SETUID".into(), "SETGID".into(), "KILL".into()])
    );
    assert_eq!(hc.security_opt, Some(vec!["no-new-privileges".to_string()]));
    assert_eq!(hc.init, Some(true));
    assert_eq!(hc.pids_limit, Some(64));
    assert_eq!(hc.memory, Some(256 << 20));
    assert!(hc.tmpfs.unwrap().contains_key("/tmp"));
    let config = inspect.config.unwrap();
    // The runner is root with the three capabilities above; code is the folder's owner (1000
    // here) and has none.
    assert_eq!(config.user.as_deref(), Some("0:0"));
    assert!(
        config
            .env
            .unwrap_or_default()
            .contains(&"AETHERIA_CODE_USER=1000:1000".to_string())
    );
    let code = run(
        &sb,
        &id,
        &[
            "sh",
            "-c",
            "id -u; id -g; id -G; grep -E '^Cap(Prm|Eff|Amb)' /proc/self/status",
        ],
        10,
    )
    .await;
    assert_eq!(
        code.stdout.text(),
        "1000\n1000\n1000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapAmb:\t0000000000000000\n",
        "{code:?}"
    );
    assert_eq!(
        config
            .labels
            .unwrap()
            .get("io.aetheria.name")
            .map(String::as_str),
        Some("hardening")
    );
    sb.destroy(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn network_switch_gives_a_real_interface() {
    if skip("docker") {
        return;
    }
    let sb = Pool::new(DockerHost::connect().await.expect(NEED_IMAGE));
    let ws = workspace();
    let mut with_net = spec("net-on", ws.path());
    with_net.network = aetheria_sandbox::Network::Open;
    let id = sb.create(&with_net).await.unwrap();
    let links = run(
        &sb,
        &id,
        &[
            "sh",
            "-c",
            "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort",
        ],
        10,
    )
    .await;
    assert_eq!(links.stdout.text(), "eth0\nlo\n", "{links:?}");
    sb.destroy(&id).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn orphans_of_a_dead_process_are_removed_at_start() {
    if skip("docker") {
        return;
    }
    let crashed = Pool::new(
        DockerHost::connect()
            .await
            .expect(NEED_IMAGE)
            .owned_by_a_crashed_app(),
    );
    let ws = workspace();
    let orphan = crashed.create(&spec("orphan", ws.path())).await.unwrap();
    let alive = Pool::new(DockerHost::connect().await.expect(NEED_IMAGE));
    let mine = alive.create(&spec("mine", ws.path())).await.unwrap();
    // A new app start sweeps the dead process's container and leaves the live one's.
    let fresh = DockerHost::connect().await.unwrap();
    let ids: Vec<_> = Pool::new(fresh)
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert!(!ids.contains(&orphan), "orphan still there: {ids:?}");
    assert!(
        ids.contains(&mine),
        "a live app's sandbox was removed: {ids:?}"
    );
    alive.destroy(&mine).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn rootfs_imports_through_the_engine_api_with_progress() {
    if skip("docker") {
        return;
    }
    let docker = aetheria_sandbox::connect_docker().await.unwrap();
    let tar = image::rootfs_tar(&aetheria_sandbox::default_cache_dir());
    assert!(tar.exists(), "{NEED_IMAGE}");
    // Import under a scratch tag so the shared image stays usable for parallel tests.
    let mut steps = Vec::new();
    let image = image::import_rootfs_as(&docker, &tar, "aetheria-sandbox-test", &mut |p| {
        steps.push(p);
    })
    .await
    .unwrap();
    assert!(steps.iter().any(|p| matches!(p, image::Progress::Import { sent, total } if sent == total && *total > 50 << 20)), "{steps:?}");
    assert!(matches!(steps.last(), Some(image::Progress::Done { .. })));
    let inspect = docker.inspect_image(&image).await.unwrap();
    assert_eq!(
        inspect.config.and_then(|c| c.working_dir).as_deref(),
        Some("/workspace")
    );
    docker
        .remove_image(
            &image,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap();
}

/// Docker Desktop (macOS, Windows) and an engine on another machine cannot take a Unix socket of
/// this machine. There an online sandbox still gets no network of Docker's (not the bridge, which
/// reaches this machine's services and the LAN): the runner serves the proxy port and its pipes
/// carry each connection to the host's proxy. The same checks as with the socket bound in —
/// nothing directly, `CONNECT` through the proxy, the cap on connections at once — and 2 MB each
/// way through one connection, whole and in order, while both sides send at once.
#[tokio::test(flavor = "multi_thread")]
async fn an_engine_in_a_virtual_machine_gets_the_proxy_through_the_runner() {
    if skip("docker") {
        return;
    }
    let proxy = super::security::HostProxy::start();
    let host = DockerHost::connect()
        .await
        .expect(NEED_IMAGE)
        .as_if_in_a_virtual_machine();
    let docker = host.docker().clone();
    let sb = Pool::new(host);
    let ws = workspace();
    let mut spec = spec("tunnelled", ws.path());
    spec.network = aetheria_sandbox::Network::Proxy(proxy.socket.clone());
    let id = sb.create(&spec).await.unwrap();
    let inspect = docker.inspect_container(&id.0, None).await.unwrap();
    assert_eq!(
        inspect.host_config.unwrap().network_mode.as_deref(),
        Some("none")
    );
    assert!(
        inspect
            .mounts
            .unwrap_or_default()
            .iter()
            .all(|m| m.destination.as_deref() != Some("/run/aetheria/egress.sock")),
        "the host's socket was bound in"
    );
    super::security::proxied_network(&sb, &id, &proxy).await;
    let both_ways = r#"
import os, socket, threading, urllib.parse
p = urllib.parse.urlsplit(os.environ["HTTPS_PROXY"])
s = socket.create_connection((p.hostname, p.port), timeout=30)
s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\n\r\n")
f = s.makefile("rb")
print(f.readline().decode().strip())
f.readline()
lines = [(b"%07d " % i) + b"x" * 1015 + b"\n" for i in range(2048)]
threading.Thread(target=lambda: s.sendall(b"".join(lines)), daemon=True).start()
back = [f.readline() for _ in lines]
print("echoed", sum(map(len, back)), "in order" if back == lines else "NOT in order")
"#;
    let out = run(&sb, &id, &["python3", "-c", both_ways], 60).await;
    assert_eq!(
        out.stdout.text(),
        "HTTP/1.1 200 Connection established\nechoed 2097152 in order\n",
        "{out:?}"
    );
    // The next program finds the way out again (the connections of the last one are gone).
    let again = run(
        &sb,
        &id,
        &["python3", "-c", "import os, socket, urllib.parse\np = urllib.parse.urlsplit(os.environ['HTTPS_PROXY'])\ns = socket.create_connection((p.hostname, p.port), timeout=10)\ns.sendall(b'CONNECT example.org:443 HTTP/1.1\\r\\n\\r\\n')\nprint(s.makefile('rb').readline().decode().strip())"],
        20,
    )
    .await;
    assert_eq!(
        again.stdout.text(),
        "HTTP/1.1 200 Connection established\n",
        "{again:?}"
    );
    sb.destroy(&id).await.unwrap();
}
