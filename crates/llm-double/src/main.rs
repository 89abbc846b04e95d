//! `llm-double [ADDRESS]`: serves the double (see the library) on ADDRESS (default
//! `127.0.0.1:0`), prints `http://HOST:PORT/v1` (the base URL to configure) on its first
//! line, and runs until killed or Ctrl-C.

#[tokio::main]
async fn main() {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let Ok(address) = address.parse::<std::net::SocketAddr>() else {
        eprintln!("usage: llm-double [ADDRESS like 127.0.0.1:0]");
        std::process::exit(2);
    };
    let double = llm_double::LlmDouble::start_on(address).await;
    println!("{}", double.base_url());
    let _ = tokio::signal::ctrl_c().await;
}
