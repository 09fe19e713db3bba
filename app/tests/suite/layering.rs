//! Dependencies run one way: app → engine → sandbox. The engine and the sandbox never name iced.

#[test]
fn engine_and_sandbox_do_not_depend_on_iced() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for package in ["aetheria-engine", "aetheria-sandbox"] {
        let out = std::process::Command::new(&cargo)
            .args([
                "tree",
                "--offline",
                "-p",
                package,
                "-e",
                "normal",
                "--prefix",
                "none",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let tree = String::from_utf8_lossy(&out.stdout);
        assert!(
            tree.lines().count() > 10,
            "cargo tree printed too little:\n{tree}"
        );
        let gui: Vec<&str> = tree
            .lines()
            .filter(|l| l.starts_with("iced") || l.starts_with("aetheria "))
            .collect();
        assert!(gui.is_empty(), "{package} depends on {gui:?}");
    }
}
