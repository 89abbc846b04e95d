//! What web apps in browsers rely on (SPEC §11): CORS for `--cors-origin`, the refusal of
//! cookie-authenticated requests from other sites, the web app served at `/`, and the
//! client libraries' and the app's own suites run against a real server.

mod cors;
mod cross_site;
mod suites;
mod web_app;
