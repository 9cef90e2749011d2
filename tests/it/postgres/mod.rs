//! What only PostgreSQL has: moving a node onto it (`copy-db`) and several replicas on one
//! database. Run in the suite's PostgreSQL pass; they need the test server
//! (`TFM_TEST_PG_SERVER`) and fail without it.

mod cluster;
mod copy_db;
mod outage;
mod replicas;
mod terraform;
mod workers;
