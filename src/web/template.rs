//! The pages' templates: one minijinja environment, built once, with strict undefined
//! behaviour (a typo in a template is an error a test catches, not a blank on a screen).
//!
//! Static text is rendered here, on the server, in the page's language: `{{ t("staff.next") }}`
//! looks the key up in the `messages` of the page's context (its language's catalog, see
//! `i18n.rs`), and `{{ t("staff.issued", number="A 42") }}` fills `{placeholders}`. A key that
//! does not exist is an error, like an undefined variable.

use std::collections::BTreeSet;

use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};
use serde::Serialize;

use super::asset::Templates;
use super::error::WebError;

/// The templates.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

/// `t(key, **placeholders)`: the message `key` of the page's language (the context's
/// `messages`), with its `{placeholders}` filled from the keyword arguments.
fn translate(state: &State, key: &str, args: Kwargs) -> Result<String, Error> {
    let messages = state.lookup("messages").ok_or_else(|| {
        Error::new(
            ErrorKind::UndefinedError,
            "t() needs the page's `messages` in the context",
        )
    })?;
    let text = messages.get_attr(key)?;
    let Some(text) = text.as_str() else {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            format!("no message {key:?} in the message files"),
        ));
    };
    let wanted = crate::i18n::placeholders(text);
    let given: BTreeSet<&str> = args.args().collect();
    if wanted != given {
        return Err(Error::new(
            ErrorKind::MissingArgument,
            format!("t({key:?}) takes the placeholders {wanted:?}, not {given:?}"),
        ));
    }
    let mut filled = text.to_owned();
    for name in given {
        let value: minijinja::Value = args.get(name)?;
        filled = filled.replace(&format!("{{{name}}}"), &value.to_string());
    }
    Ok(filled)
}

impl Pages {
    /// Loads every template under `templates/`.
    pub fn load() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_function("t", translate);
        for name in Templates::iter() {
            if let Some(file) = Templates::get(&name) {
                let source = String::from_utf8_lossy(&file.data).into_owned();
                env.add_template_owned(name.into_owned(), source)?;
            }
        }
        Ok(Self { env })
    }

    /// Renders `name` with `context`. Debug builds reload the templates from disk first, so a
    /// template edit shows on reload.
    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String, WebError> {
        if cfg!(debug_assertions) {
            let fresh =
                Self::load().map_err(|e| WebError::Internal(format!("templates: {e:#}")))?;
            return fresh.render_with(name, context);
        }
        self.render_with(name, context)
    }

    fn render_with(&self, name: &str, context: impl Serialize) -> Result<String, WebError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(minijinja::value::Serde(context)))
            .map_err(|e| WebError::Internal(format!("template {name}: {e:#}")))
    }

    /// The page templates (every template but the ones other templates extend or include).
    pub fn names(&self) -> Vec<String> {
        self.env
            .templates()
            .map(|(name, _)| name.to_owned())
            .filter(|name| !name.starts_with('_') && name != "base.html")
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Catalogs;

    const EN: &str = include_str!("../../assets/i18n/en.toml");
    const HI: &str = include_str!("../../assets/i18n/hi.toml");

    fn context(catalog: &crate::i18n::Catalog) -> serde_json::Value {
        serde_json::json!({
            "page": "test", "lang": catalog.code, "dir": catalog.dir, "title": "Title",
            "clinic": "Clinic", "boot_json": "{}", "lang_param": "",
            "languages": [{"code": "en", "name": "English"}, {"code": "hi", "name": "हिन्दी"}],
            "messages": catalog.messages,
            "view": super::super::reports::example_view(catalog),
        })
    }

    #[test]
    fn every_page_renders_its_static_text_in_each_language() {
        let pages = Pages::load().unwrap();
        let catalogs = Catalogs::parse([("en.toml", EN), ("hi.toml", HI)]).unwrap();
        assert!(pages.names().len() >= 10, "{:?}", pages.names());
        for name in pages.names() {
            for lang in ["en", "hi"] {
                let catalog = catalogs.get(lang);
                let mut ctx = context(catalog);
                if name == "index.html" {
                    // Every tile and the account box: all of the page's text.
                    ctx["view"] = super::super::page::example_index_view();
                }
                let html = pages
                    .render_with(&name, ctx)
                    .unwrap_or_else(|e| panic!("{name} in {lang}: {e}"));
                assert!(!html.contains("data-t"), "{name}: client-side static text");
                assert!(!html.contains("t(\""), "{name}: an unrendered t()");
            }
        }
        let staff = pages
            .render_with("staff.html", context(catalogs.get("hi")))
            .unwrap();
        assert!(staff.contains(catalogs.get("hi").text("staff.next")));
    }

    #[test]
    fn t_refuses_a_missing_key_and_fills_placeholders() {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_function("t", translate);
        let catalogs = Catalogs::parse([("en.toml", EN)]).unwrap();
        let ctx = context(catalogs.get("en"));
        let render = |source: &str| env.render_str(source, minijinja::value::Serde(&ctx));
        assert_eq!(render(r#"{{ t("staff.next") }}"#).unwrap(), "Next");
        assert_eq!(
            render(r#"{{ t("staff.issued", number="A 42") }}"#).unwrap(),
            "Issued A 42"
        );
        let err = render(r#"{{ t("staff.nxet") }}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UndefinedError, "{err:#}");
        assert!(render(r#"{{ t("staff.issued", numbr="A 42") }}"#).is_err());
        assert!(render(r#"{{ t("staff.issued") }}"#).is_err());
    }
}
