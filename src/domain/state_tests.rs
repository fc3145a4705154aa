//! State machine tests (to come).
