//! Unit tests of the pure form model: the compiler, the values and the validator.

mod compile_kinds;
mod compile_schemas;
mod render;
mod validate_keywords;
mod values;

use super::*;

/// The field at a path of property keys (branches: the first; items: the item).
pub(super) fn field<'m>(model: &'m FormModel, path: &[&str]) -> &'m Field {
    let mut current: &Field = &model.root;
    for key in path {
        current = match &current.kind {
            FieldKind::Object(o) => o.fields.iter().find(|f| f.key.as_deref() == Some(*key)).unwrap_or_else(|| {
                panic!("no field {key} in {:?}", o.fields.iter().map(|f| &f.key).collect::<Vec<_>>())
            }),
            FieldKind::Array(a) if *key == "[]" => &a.item,
            FieldKind::Branches(b) => &b.branches[key.parse::<usize>().expect("a branch index")].field,
            other => panic!("cannot go into {key} of {other:?}"),
        };
    }
    current
}
