//! The bundled admin web UI (`web/`, built with Vite into `web/dist`), embedded in the release
//! binary and served under `/ui/`: hashed assets are immutable, `index.html` is revalidated,
//! any other path under `/ui/` is the single-page app's (its router decides), and every
//! answer carries a strict Content-Security-Policy. A build without `web/dist` still
//! compiles and serves a page that says how to build the UI. `/` sends browsers to `/ui/`.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

#[derive(rust_embed::RustEmbed)]
#[folder = "web/dist/"]
#[allow_missing = true]
struct Assets;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
                   base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

pub fn configure(cfg: &mut web::ServiceConfig) {
    // A scope with a static prefix, so that mirror requests never run the tail's regex.
    cfg.service(web::resource("/").route(web::get().to(to_ui)))
        .service(
            web::scope("/ui")
                .service(web::resource("").route(web::get().to(to_ui)))
                .service(web::resource("/{tail:.*}").route(web::get().to(asset))),
        );
}

async fn to_ui() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}

fn secured(mut res: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    res.insert_header(("Content-Security-Policy", CSP))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Referrer-Policy", "no-referrer"));
    res
}

async fn asset(req: HttpRequest, tail: web::Path<String>) -> HttpResponse {
    let path = tail.into_inner();
    let path = path.trim_start_matches('/');
    if let Some(file) = Assets::get(path).filter(|_| !path.is_empty()) {
        return serve(&req, path, file);
    }
    // Hashed assets that do not exist are plain 404s, not the app.
    if path.starts_with("assets/") {
        return secured(HttpResponse::NotFound())
            .content_type("text/plain")
            .body("no such asset");
    }
    match Assets::get("index.html") {
        Some(index) => serve(&req, "index.html", index),
        None => secured(HttpResponse::ServiceUnavailable())
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(
                "<!doctype html><title>tfmirror</title><h1>The admin UI is not built</h1>\
                 <p>Build it with <code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>, \
                 then rebuild tfmirror (<code>./scripts/run.sh</code> does both). The mirror \
                 and the admin API work without it.</p>",
            ),
    }
}

fn serve(req: &HttpRequest, path: &str, file: rust_embed::EmbeddedFile) -> HttpResponse {
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = secured(if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    });
    res.insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache));
    if matches {
        return res.finish();
    }
    res.content_type(file.metadata.mimetype())
        .body(file.data.into_owned())
}
