//! Shared harness for the end-to-end tests of bindfs-rs.
