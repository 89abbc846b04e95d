//! The OpenAPI 3.1 document, generated from the handlers' annotations: the top of
//! `http/`, importing every handler (nothing imports it but the router).

use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::error::{TenantError, UserError};
use super::{shared, tenant_api, user_api, ws};

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("neptun-session"))),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// The cross-site check (`origin.rs`) applies to every user-API write and to sign-up,
/// login and logout: each documents its 403 once, here.
struct CrossSite;

impl Modify for CrossSite {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let forbidden = ResponseBuilder::new()
            .description(
                "A request from another site's page (an `Origin` that is neither this \
                 server's nor one of `--cors-origin`): `forbidden_origin`",
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("UserError")))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !(path.starts_with("/api/users/") || path.starts_with("/api/auth/")) {
                continue;
            }
            let writes = [
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in writes.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .entry("403".to_owned())
                    .or_insert_with(|| forbidden.clone().into());
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "confab", description = "Chat-history server for AI assistants: the user API (cookie sessions) and the tenant API (X-API-Key)."),
    paths(
        user_api::sign_up, user_api::login, user_api::logout, user_api::check,
        user_api::list_chats, user_api::create_chat, user_api::update_chat,
        user_api::delete_chat, user_api::delete_chats,
        user_api::list_messages, user_api::post_messages, user_api::delete_last, user_api::list_files,
        user_api::edit_message, user_api::switch_branch, user_api::tree, user_api::search,
        user_api::generate, user_api::resume, user_api::stop,
        user_api::list_trash, user_api::restore_chat, user_api::purge_chat,
        user_api::share_chat, user_api::revoke_share, user_api::erase_self, user_api::export_all,
        tenant_api::create_chat, tenant_api::list_chats, tenant_api::get_chat, tenant_api::delete_chat,
        tenant_api::list_messages, tenant_api::post_messages, tenant_api::delete_last,
        tenant_api::edit_message, tenant_api::switch_branch, tenant_api::tree, tenant_api::search,
        tenant_api::export_chat, tenant_api::generate, tenant_api::resume, tenant_api::stop,
        tenant_api::update_chat, tenant_api::list_trash, tenant_api::restore_chat,
        tenant_api::purge_chat, tenant_api::share_chat, tenant_api::revoke_share,
        tenant_api::erase_user, tenant_api::export_all, tenant_api::import, shared::read_shared,
        ws::tenant_ws, ws::user_ws,
    ),
    components(schemas(UserError, TenantError)),
    modifiers(&Security, &CrossSite),
)]
pub struct ApiDoc;

pub async fn document() -> Response {
    axum::Json(ApiDoc::openapi()).into_response()
}
