//! The Python host crate is built as an extension module (it does not link libpython: the
//! interpreter that loads it provides the symbols); the fuzz targets embed an interpreter, so
//! they link the one `python3` names.

use std::process::Command;

fn main() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    println!("cargo:rerun-if-env-changed=PYTHON");
    let out = Command::new(&python)
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_config_var('LIBDIR')); print(sysconfig.get_config_var('LDVERSION'))",
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{python} cannot say where libpython is"
    );
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut lines = text.lines();
    let (libdir, version) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    println!("cargo:rustc-link-search=native={libdir}");
    println!("cargo:rustc-link-lib=dylib=python{version}");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{libdir}");
}
