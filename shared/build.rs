//! `sqlx::migrate!` embeds `migrations/` at compile time, but cargo does not know it reads that
//! folder: without this, a new migration would not be in the next build.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
