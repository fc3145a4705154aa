//! Embedded files: `assets/` (CSS, JS, fonts, sounds, message files) and `templates/`. Release
//! builds carry them inside the binary; debug builds read them from disk, so edits show on
//! reload without a rebuild.

use actix_web::http::header::{self, EntityTag};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::Embed;

use super::error::WebError;

/// `assets/`, without the printer's fonts (the printer embeds those itself; no page uses them).
#[derive(Embed)]
#[folder = "assets/"]
#[exclude = "fonts/print/*"]
pub struct Assets;

/// `templates/`.
#[derive(Embed)]
#[folder = "templates/"]
pub struct Templates;

/// The message files (`assets/i18n/*.toml`) as (file name, text).
pub fn message_files() -> Vec<(String, String)> {
    Assets::iter()
        .filter(|path| path.starts_with("i18n/") && path.ends_with(".toml"))
        .filter_map(|path| {
            let file = Assets::get(&path)?;
            let text = String::from_utf8(file.data.into_owned()).ok()?;
            Some((path.trim_start_matches("i18n/").to_owned(), text))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /assets/{path}`: the file with its content type and an ETag; `304` when the browser
/// has it already. Browsers revalidate every time (`no-cache`), so an upgrade shows at once.
pub async fn asset_get(
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let path = path.into_inner();
    let file = Assets::get(&path).ok_or_else(|| WebError::NotFound(format!("/assets/{path}")))?;
    let tag = EntityTag::new_strong(hex(&file.metadata.sha256_hash()[..16]));
    let cached = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_matches('"') == tag.tag())
        });
    let mut response = if cached {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header(header::ETag(tag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if cached {
        return Ok(response.finish());
    }
    Ok(response
        .content_type(file.metadata.mimetype())
        .body(file.data.into_owned()))
}
