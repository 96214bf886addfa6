import Foundation

/// What the fuzz executables run: one input for libFuzzer, or the files named on the command line without it.
public enum FuzzEntry {
    /// One libFuzzer input: a failed property traps, which libFuzzer reports as a crash and keeps the input.
    public static func run(_ target: FuzzTarget, _ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
        let input = Array(UnsafeBufferPointer(start: data, count: size))
        do {
            try target.check(input)
        } catch {
            fatalError("fuzz \(target.rawValue): \(error)")
        }
        return 0
    }

    /// Checks each file named in `paths`, and each file of each folder named; exits 1 when a property fails.
    public static func replay(_ target: FuzzTarget, paths: some Sequence<String>) -> Never {
        var files: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                FileHandle.standardError.write(Data("no such file: \(path)\n".utf8))
                exit(2)
            }
            if isFolder.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        var failures = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            do {
                try target.check(Array(data))
            } catch {
                failures += 1
                print("\(file): \(error)")
            }
        }
        print("fuzz \(target.rawValue): replayed \(files.count) inputs, \(failures == 0 ? "no failure" : "\(failures) failed")")
        exit(failures == 0 ? 0 : 1)
    }
}
