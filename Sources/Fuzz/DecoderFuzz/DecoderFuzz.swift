import FuzzTargets

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzEntry.run(.decoder, data, size)
}

#if !FUZZING
/// Built without libFuzzer (scripts/fuzz.sh builds with it): checks the files and folders named on the command line.
@main enum Replay {
    static func main() {
        FuzzEntry.replay(.decoder, paths: CommandLine.arguments.dropFirst())
    }
}
#endif
