//! The command line's keys and accounts: a provider's key kept in the real keychain and never
//! shown, and a service's token (Vercel) kept, listed and signed out through the engine.

use aetheria_engine::testkit::{Reply, ScriptedServer, skip};

use super::common::{Env, stderr, stdout};

#[tokio::test]
async fn auth_stores_keys_in_the_keychain_without_showing_them() {
    if skip("keychain") {
        return;
    }
    let server = ScriptedServer::start(vec![Reply::text(&["authorised"])])
        .await
        .unwrap();
    let env = Env::new(&server.base_url());
    let unique = format!("sk-cli-{}", std::process::id());
    // The provider's key_ref is `aetheria-test-absent`; give this test its own account.
    env.write_config(&format!(
        "[vercel]\ntoken_ref = \"aetheria-cli-test-vercel-{1}\"\n[[providers]]\nname = \"kc\"\nwire = \"openai\"\nbase_url = \"{0}\"\nmodel = \"m\"\nkey_ref = \"aetheria-cli-test-{1}\"\n",
        server.base_url(),
        std::process::id()
    ));
    let mut set = env.command(&["auth", "set", "kc"]);
    set.stdin(std::process::Stdio::piped());
    let mut child = set.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{unique}\n").as_bytes())
            .await
            .unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(&unique));

    let out = env.run(&["auth", "status", "kc"]).await;
    assert!(
        stdout(&out).contains("keychain: a key is stored"),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(&unique));

    let out = env.run(&["ask", "hi"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        server.authorizations()[0].as_deref(),
        Some(format!("Bearer {unique}").as_str())
    );
    let config = std::fs::read_to_string(env.dir.path().join("config/config.toml")).unwrap();
    assert!(!config.contains(&unique));

    // `auth set vercel` is the service's token: kept through the engine, its tools on.
    let mut set = env.command(&["auth", "set", "vercel"]);
    set.stdin(std::process::Stdio::piped());
    let mut child = set.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"vcp_cli_token\n").await.unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("vcp_cli"), "{}", stdout(&out));
    let out = env.run(&["auth", "accounts"]).await;
    let vercel = stdout(&out)
        .lines()
        .find(|l| l.starts_with("Vercel"))
        .map(str::to_owned);
    assert!(
        vercel
            .as_deref()
            .is_some_and(|l| l.contains("signed in") && l.ends_with("tools on")),
        "{}",
        stdout(&out)
    );
    let out = env.run(&["auth", "signout", "vercel"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).lines().any(|l| l.starts_with("Vercel")
            && l.contains("signed out")
            && l.ends_with("tools off")),
        "{}",
        stdout(&out)
    );
    let config = std::fs::read_to_string(env.dir.path().join("config/config.toml")).unwrap();
    assert!(config.contains("enabled = false"), "{config}");
    let out = env.run(&["auth", "signout", "gitlab"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("none of github, drive, vercel"),
        "{}",
        stderr(&out)
    );

    let out = env.run(&["auth", "rm", "kc"]).await;
    assert!(stdout(&out).contains("removed"), "{}", stdout(&out));
    let out = env.run(&["auth", "status", "kc"]).await;
    assert!(stdout(&out).contains("no key stored"), "{}", stdout(&out));
}
