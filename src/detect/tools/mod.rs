//! Rule author's tools.
