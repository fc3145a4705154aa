//! The pages' templates: one minijinja environment, built once, with strict undefined
//! behaviour (a typo in a template is an error a test catches, not a blank on a screen).

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::asset::Templates;
use super::error::WebError;

/// The templates.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    /// Loads every template under `templates/`.
    pub fn load() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
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
}
