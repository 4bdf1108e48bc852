//! Black-box tests of the HTTP surface, compiled into one binary: the real router over a real
//! SQLite store, called in-process.

mod authz;
mod concurrency;
mod corrections;
mod dashboard;
mod fixtures;
mod forms;
mod judging;
mod keys;
mod limits;
mod native;
mod parity;
mod reports;
mod request_id;
mod robustness;
mod scores;
mod seed_replay;
mod spec;
mod support;
