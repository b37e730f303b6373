//! The application layer between the command line and the library, shared by the CLI and the
//! TUI: [`settings`] turns arguments into validated settings, [`mod@run`] runs the pipeline
//! into an [`Outcome`], [`mod@render`] writes it, and [`exit`] maps it to the exit status.

pub mod exit;
pub mod man;
pub mod messages;
mod output;
mod parquet;
pub mod render;
pub mod run;
pub mod settings;

pub use render::render;
pub use run::{run, Outcome};
pub use settings::{Settings, SettingsError};
