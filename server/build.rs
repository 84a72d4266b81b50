// `sqlx::migrate!` embeds the SQL files of `migrations/` in the binary: rebuild when they change.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
