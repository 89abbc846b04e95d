//! Embeds the web app (`web/`, served at `/`) in the binary: writes the list of its files,
//! each through `include_bytes!`, to `$OUT_DIR/web_assets.rs`. Cargo rebuilds when any
//! file under `web/` changes. Nothing is compiled or bundled: the files are served as
//! they are in the repository.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo")).join("web");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    if root.is_dir() {
        collect(&root, &mut files);
    }
    files.sort();
    let mut code = String::from("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for file in &files {
        let relative = file
            .strip_prefix(&root)
            .expect("under web/")
            .to_str()
            .expect("web/ file names are UTF-8")
            .replace('\\', "/");
        writeln!(
            code,
            "    ({relative:?}, include_bytes!({:?})),",
            file.display()
        )
        .expect("writing to a String");
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));
    std::fs::write(out.join("web_assets.rs"), code).expect("cannot write web_assets.rs");
}

/// Every served file under `dir`: dot files, and folders that only the tests, tools or
/// packaging use (`node_modules`, `e2e`), are left out. Names must be plain
/// (`[A-Za-z0-9._-]`: the server matches request paths without decoding them) and
/// entries real files or folders (a link could pull in a file from outside `web/`).
fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("cannot read web/");
    for entry in entries {
        let entry = entry.expect("cannot read web/");
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "node_modules" || name == "e2e" {
            continue;
        }
        let plain = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        assert!(
            plain,
            "web/: {} has a name that cannot be served",
            path.display()
        );
        let kind = entry.file_type().expect("cannot read web/");
        if kind.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(&path, files);
        } else {
            assert!(
                kind.is_file(),
                "web/: {} is not a plain file",
                path.display()
            );
            files.push(path);
        }
    }
}
