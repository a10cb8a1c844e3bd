//! The container files, checked without a Docker engine: what the image runs as, where it
//! listens, how it reports health, what goes into the build context, and the compose example.
//! Also `wallet-auth health`, the image's health check, against a real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Dockerfile instructions with continuation lines joined, comments dropped.
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(cont) = t.strip_suffix('\\') {
            current.push_str(cont);
            current.push(' ');
            continue;
        }
        current.push_str(t);
        let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
        out.push((op.to_ascii_uppercase(), rest.trim().to_owned()));
        current.clear();
    }
    out
}

/// The instructions of the last stage (the image that runs).
fn final_stage(all: &[(String, String)]) -> &[(String, String)] {
    let start = all.iter().rposition(|(op, _)| op == "FROM").unwrap();
    &all[start..]
}

#[test]
fn image_runs_unprivileged_reachable_and_health_checked() {
    let all = instructions(&read("Dockerfile"));
    let run = final_stage(&all);
    let user = run
        .iter()
        .rev()
        .find(|(op, _)| op == "USER")
        .map(|(_, v)| v.clone())
        .expect("the image sets a USER");
    let uid = user.split(':').next().unwrap();
    assert!(
        uid != "root" && uid.parse::<u32>().is_ok_and(|n| n != 0),
        "USER {user}"
    );
    let env: String = run
        .iter()
        .filter(|(op, _)| op == "ENV")
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        env.contains("BIND_ADDR=0.0.0.0:") || env.contains("BIND_ADDR=[::]:"),
        "the image listens on every interface so `docker run -p` reaches it: {env}"
    );
    let health = run
        .iter()
        .find(|(op, _)| op == "HEALTHCHECK")
        .map(|(_, v)| v.clone())
        .expect("HEALTHCHECK");
    assert!(
        health.contains("wallet-auth") && health.contains("health"),
        "{health}"
    );
    assert!(health.contains("--timeout="), "{health}");
    let exposed = run.iter().any(|(op, v)| op == "EXPOSE" && v == "8080");
    assert!(exposed);
}

#[test]
fn dependencies_build_in_their_own_layer() {
    let all = instructions(&read("Dockerfile"));
    let build_end = all.iter().rposition(|(op, _)| op == "FROM").unwrap();
    let build = &all[..build_end];
    let first_src = build
        .iter()
        .position(|(op, v)| op == "COPY" && v.starts_with("src"))
        .expect("COPY src");
    let manifest = build
        .iter()
        .position(|(op, v)| op == "COPY" && v.contains("Cargo.lock"))
        .expect("COPY Cargo.toml Cargo.lock");
    let dep_build = build
        .iter()
        .position(|(op, v)| op == "RUN" && v.contains("cargo build"))
        .expect("a cargo build");
    assert!(
        manifest < dep_build && dep_build < first_src,
        "manifest, then a dependency build, then the sources"
    );
    assert!(
        !build
            .iter()
            .any(|(op, v)| op == "COPY" && v.starts_with(". ")),
        "no COPY of the whole context"
    );
    assert!(build
        .iter()
        .any(|(op, v)| op == "RUN" && v.contains("--locked")));
}

/// The dependency layer builds from the manifest alone, with stand-in targets; cargo refuses a
/// manifest whose declared target has no file, so the stand-in step must give every `[[bench]]`
/// of Cargo.toml its file. The step is run here, as `sh` runs it in the image, on a copy of the
/// manifest.
#[test]
fn the_dependency_layer_has_a_stand_in_for_every_declared_bench() {
    let all = instructions(&read("Dockerfile"));
    let step = all
        .iter()
        .find(|(op, v)| op == "RUN" && v.contains("cargo build"))
        .map(|(_, v)| v.clone())
        .expect("the dependency build");
    let stand_in = step
        .split("&& cargo build")
        .next()
        .expect("the stand-in part of the step");
    let manifest = read("Cargo.toml");
    let dir = std::env::temp_dir().join(format!("wallet-auth-stand-in-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Cargo.toml"), &manifest).unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(stand_in)
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(status.success(), "{stand_in}");
    let mut declared = Vec::new();
    let mut in_bench = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bench = line == "[[bench]]";
        } else if let Some(name) = line.strip_prefix("name = \"").filter(|_| in_bench) {
            declared.push(name.trim_end_matches('"').to_owned());
        }
    }
    assert!(declared.len() >= 2, "{declared:?}");
    for name in &declared {
        assert!(
            dir.join("benches").join(format!("{name}.rs")).is_file(),
            "no stand-in for the bench {name}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn everything_compiled_in_is_copied_and_not_ignored() {
    let dockerfile = read("Dockerfile");
    let copied: Vec<String> = instructions(&dockerfile)
        .into_iter()
        .filter(|(op, v)| op == "COPY" && !v.starts_with("--from"))
        .flat_map(|(_, v)| {
            let parts: Vec<String> = v.split_whitespace().map(str::to_owned).collect();
            parts[..parts.len() - 1].to_vec()
        })
        .collect();
    let ignore = read(".dockerignore");
    let ignored: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    // Every file the crate embeds with include_str!/include_bytes! must be in the context.
    let mut embedded = Vec::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for part in text.split("include_str!(\"").skip(1) {
                let rel = part.split('"').next().unwrap();
                let full = p.parent().unwrap().join(rel);
                let from_root = full
                    .canonicalize()
                    .unwrap()
                    .strip_prefix(
                        Path::new(env!("CARGO_MANIFEST_DIR"))
                            .canonicalize()
                            .unwrap(),
                    )
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                embedded.push(from_root);
            }
        }
    }
    assert!(!embedded.is_empty());
    for file in embedded
        .iter()
        .map(String::as_str)
        .chain(["Cargo.toml", "Cargo.lock"])
    {
        assert!(
            copied.iter().any(|c| file == c.trim_end_matches('/')
                || file.starts_with(&format!("{}/", c.trim_end_matches('/')))),
            "{file} is compiled into the binary but not copied into the build: {copied:?}"
        );
        assert!(
            !ignored
                .iter()
                .any(|i| file.starts_with(i.trim_end_matches('/').trim_start_matches("**/"))),
            "{file} is excluded by .dockerignore"
        );
    }
    for must in ["target/", "node_modules/", ".env", ".git/"] {
        assert!(
            ignored.iter().any(|i| i.trim_start_matches("**/") == must),
            ".dockerignore keeps {must} out of the build context"
        );
    }
}

#[test]
fn compose_runs_redis_with_aof_and_health_checks_without_the_demo() {
    let compose = read("docker-compose.yml");
    // The lines of one service: from `  name:` to the next line indented two spaces or less.
    let section = |name: &str| -> String {
        let header = format!("  {name}:");
        let mut lines = compose.lines().skip_while(|l| *l != header);
        assert!(lines.next().is_some(), "service {name}");
        lines
            .take_while(|l| l.trim().is_empty() || l.starts_with("   "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let redis = section("redis");
    assert!(
        redis.contains("--appendonly") && redis.contains("\"yes\""),
        "{redis}"
    );
    assert!(redis.contains("healthcheck:"), "{redis}");
    assert!(redis.contains("volumes:"), "{redis}");
    let app = section("wallet-auth");
    assert!(
        app.contains("healthcheck:") && app.contains("\"health\""),
        "{app}"
    );
    assert!(app.contains("condition: service_healthy"), "{app}");
    assert!(app.contains("DEMO_PAGE: \"false\""), "{app}");
    assert!(app.contains("COOKIE_SECURE: \"true\""), "{app}");
    assert!(app.contains("BIND_ADDR: 0.0.0.0:8080"), "{app}");
    assert!(
        app.contains("SESSION_ENCRYPTION_KEY: ${SESSION_ENCRYPTION_KEY:?"),
        "{app}"
    );
}

#[test]
fn health_command_tells_a_running_server_from_none() {
    let bin = env!("CARGO_BIN_EXE_wallet-auth");
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let down = Command::new(bin)
        .args(["health", "--addr", &addr.to_string()])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1), "{down:?}");

    let mut server = Command::new(bin)
        .arg("serve")
        .env_clear()
        .env("BIND_ADDR", format!("0.0.0.0:{}", addr.port()))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut healthy = None;
    for _ in 0..100 {
        // The image's form: no --addr, BIND_ADDR with the wildcard address.
        let out = Command::new(bin)
            .arg("health")
            .env_clear()
            .env("BIND_ADDR", format!("0.0.0.0:{}", addr.port()))
            .output()
            .unwrap();
        if out.status.success() {
            healthy = Some(String::from_utf8_lossy(&out.stdout).into_owned());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(healthy.as_deref().map(str::trim), Some("healthy"));
}
