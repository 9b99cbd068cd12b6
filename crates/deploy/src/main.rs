//! The `hf-deploy` binary: everything lives in the library (`hf_deploy::run`).

fn main() {
    // GitHub passes unset action inputs as empty strings: an empty HF_DEPLOY_* variable means "unset".
    let empty: Vec<_> = std::env::vars_os()
        .filter(|(key, value)| key.to_string_lossy().starts_with("HF_DEPLOY_") && value.is_empty())
        .map(|(key, _)| key)
        .collect();
    for key in empty {
        // Single-threaded here: no runtime or other thread exists yet.
        std::env::remove_var(key);
    }
    std::process::exit(hf_deploy::run(std::env::args_os()));
}
