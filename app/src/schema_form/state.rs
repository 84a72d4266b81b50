//! What a request or update page keeps for one form: the value, the browser's messages merged
//! with the server's, and whether the user tried to submit.

use leptos::prelude::*;
use serde_json::Value;

use super::errors::FieldErrors;
use super::model::FormModel;
use super::{from_parameters, initial_value, to_parameters, validate};

/// Reactive state of one schema form. Create it inside a component (it owns signals).
///
/// ```ignore
/// let form = FormState::new(schema_form::compile(&plan_schema));
/// view! { <SchemaForm model=form.model.clone() value=form.value errors=form.errors() show_all=form.submitted /> }
/// // on submit:
/// if let Some(parameters) = form.try_submit() { /* call the server */ }
/// // when the server answers with field errors:
/// form.set_server_errors(errors);
/// ```
#[derive(Clone)]
pub struct FormState {
    pub model: FormModel,
    pub value: RwSignal<Value>,
    /// Set by [`FormState::try_submit`]: every message is shown from then on.
    pub submitted: RwSignal<bool>,
    /// The server's messages, with the value they were about: they are shown until it changes.
    server: RwSignal<Option<(Value, FieldErrors)>>,
    errors: Memo<FieldErrors>,
}

impl FormState {
    /// A new request: the schema's defaults filled in.
    pub fn new(model: FormModel) -> Self {
        let start = initial_value(&model);
        Self::with_value(model, start)
    }

    /// An update: the instance's current parameters, with defaults for what they leave out.
    pub fn for_parameters(model: FormModel, parameters: &Value) -> Self {
        let start = from_parameters(&model, parameters);
        Self::with_value(model, start)
    }

    fn with_value(model: FormModel, start: Value) -> Self {
        let value = RwSignal::new(start);
        let server = RwSignal::new(None::<(Value, FieldErrors)>);
        let errors = Memo::new({
            let model = model.clone();
            move |_| {
                value.with(|v| {
                    let mut errors = validate(&model, v);
                    server.with(|s| {
                        if let Some((about, theirs)) = s
                            && about == v
                        {
                            errors.extend(theirs.clone());
                        }
                    });
                    errors
                })
            }
        });
        Self { model, value, submitted: RwSignal::new(false), server, errors }
    }

    /// The messages to give `SchemaForm`.
    pub fn errors(&self) -> Signal<FieldErrors> {
        self.errors.into()
    }

    /// The parameters the form stands for now (empty optional fields left out).
    pub fn parameters(&self) -> Value {
        self.value.with_untracked(|v| to_parameters(&self.model, v))
    }

    /// Shows every message; returns the parameters when the browser finds nothing wrong.
    pub fn try_submit(&self) -> Option<Value> {
        self.submitted.set(true);
        self.errors.with_untracked(FieldErrors::is_empty).then(|| self.parameters())
    }

    /// The server's messages about the current value (e.g. from `server::params`, or a broker's
    /// 400 mapped to fields); they go when the user changes something.
    pub fn set_server_errors(&self, errors: FieldErrors) {
        let about = self.value.get_untracked();
        self.server.set(Some((about, errors)));
        self.submitted.set(true);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema_form::compile;

    #[test]
    fn submit_shows_messages_and_server_messages_last_until_an_edit() {
        Owner::new().with(|| {
            let model = compile(&json!({"properties": {"q": {"type": "integer", "minimum": 1, "default": 5}, "n": {"type": "string"}}, "required": ["n"]}));
            let form = FormState::new(model.clone());
            assert_eq!(form.try_submit(), None);
            assert!(form.submitted.get_untracked());
            assert_eq!(form.errors().get_untracked().at("/n"), ["Required".to_string()]);
            form.value.update(|v| v["n"] = json!("db"));
            assert_eq!(form.try_submit(), Some(json!({"q": 5, "n": "db"})));
            let mut theirs = FieldErrors::new();
            theirs.push("/n", "Name already taken");
            form.set_server_errors(theirs);
            assert_eq!(form.errors().get_untracked().at("/n"), ["Name already taken".to_string()]);
            form.value.update(|v| v["n"] = json!("db2"));
            assert!(form.errors().get_untracked().is_empty());
            let update = FormState::for_parameters(model, &json!({"n": "x"}));
            assert_eq!(update.value.get_untracked(), json!({"n": "x", "q": 5}));
        });
    }
}
