//! Process exit statuses of the `lox` binary, in the BSD `sysexits.h` convention clox uses.

/// Success.
pub const OK: i32 = 0;
/// Bad command line: unknown flag, bad flag value, extra operand.
pub const USAGE: i32 = 64;
/// The script does not compile.
pub const COMPILE_ERROR: i32 = 65;
/// The script failed at run time, or the interpreter itself failed.
pub const RUNTIME_ERROR: i32 = 70;
/// The operating system refused a resource: the heap reservation, the interpreter thread.
pub const OS_ERROR: i32 = 71;
/// The script could not be read, or the statistics file could not be written.
pub const IO_ERROR: i32 = 74;
