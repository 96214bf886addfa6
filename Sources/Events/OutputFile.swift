import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Opens a file for writing as the shell's `>` and `>>` do: created if missing, emptied unless appending, and written
/// in place. Foundation's `createFile` writes a new file and renames it over the path, which would replace a device
/// such as `/dev/null` with a plain file.
public enum OutputFile {
    /// The handle, or nil with `errno` set (`reason` describes it).
    public static func open(_ path: String, append: Bool = false) -> FileHandle? {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0o644)
        guard fd >= 0 else { return nil }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// The last failure's reason (`strerror(errno)`).
    public static var reason: String { String(cString: strerror(errno)) }
}
