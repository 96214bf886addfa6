import CZlib
import Foundation

/// A screenshot decoded to pixels, so that a test can check what the page shows rather than that a file exists.
/// Reads what headless Chromium writes: 8-bit RGB or RGBA, not interlaced.
struct PNGImage {
    struct Malformed: Error, CustomStringConvertible { let description: String }

    let width: Int
    let height: Int
    private let channels: Int
    private let pixels: [UInt8]

    init(_ data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { throw Malformed(description: "not a PNG") }
        func be32(_ i: Int) -> Int { bytes[i..<i + 4].reduce(0) { $0 << 8 | Int($1) } }
        var at = 8, header: (width: Int, height: Int, depth: UInt8, colour: UInt8, interlace: UInt8)?
        var compressed: [UInt8] = []
        while at + 8 <= bytes.count {
            let length = be32(at), type = String(decoding: bytes[at + 4..<at + 8], as: UTF8.self), body = at + 8
            guard body + length + 4 <= bytes.count else { throw Malformed(description: "chunk \(type) runs past the end") }
            switch type {
            case "IHDR": header = (be32(body), be32(body + 4), bytes[body + 8], bytes[body + 9], bytes[body + 12])
            case "IDAT": compressed += bytes[body..<body + length]
            default: break
            }
            at = body + length + 4
        }
        guard let header, header.depth == 8, header.colour == 2 || header.colour == 6, header.interlace == 0 else {
            throw Malformed(description: "not an 8-bit RGB(A), non-interlaced PNG")
        }
        width = header.width
        height = header.height
        channels = header.colour == 6 ? 4 : 3
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: height * (stride + 1))
        var size = uLongf(raw.count)
        let status = raw.withUnsafeMutableBytes { out in
            compressed.withUnsafeBytes { input in
                uncompress(out.baseAddress!.assumingMemoryBound(to: Bytef.self), &size,
                           input.baseAddress!.assumingMemoryBound(to: Bytef.self), uLong(input.count))
            }
        }
        guard status == Z_OK, Int(size) == raw.count else { throw Malformed(description: "image data does not inflate (\(status))") }
        pixels = try Self.unfiltered(raw, height: height, stride: stride, channels: channels)
    }

    /// Undoes the per-row filters (None, Sub, Up, Average, Paeth).
    private static func unfiltered(_ raw: [UInt8], height: Int, stride: Int, channels: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let filter = raw[y * (stride + 1)], row = y * (stride + 1) + 1
            for x in 0..<stride {
                let a = x >= channels ? Int(out[y * stride + x - channels]) : 0
                let b = y > 0 ? Int(out[(y - 1) * stride + x]) : 0
                let c = x >= channels && y > 0 ? Int(out[(y - 1) * stride + x - channels]) : 0
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = b
                case 3: predicted = (a + b) / 2
                case 4:
                    let p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predicted = pa <= pb && pa <= pc ? a : pb <= pc ? b : c
                default: throw Malformed(description: "row \(y) has filter \(filter)")
                }
                out[y * stride + x] = UInt8((Int(raw[row + x]) + predicted) & 0xFF)
            }
        }
        return out
    }

    func pixel(x: Int, y: Int) -> (r: Int, g: Int, b: Int) {
        let i = (y * width + x) * channels
        return (Int(pixels[i]), Int(pixels[i + 1]), Int(pixels[i + 2]))
    }

    /// The share of pixels in rows `rows` that are clearly not white: text, buttons, bars.
    func inkShare(rows: Range<Int>? = nil) -> Double {
        let rows = rows ?? 0..<height
        var ink = 0
        for y in rows {
            for x in 0..<width {
                let p = pixel(x: x, y: y)
                if p.r + p.g + p.b < 600 { ink += 1 }
            }
        }
        return Double(ink) / Double(max(1, rows.count * width))
    }

    /// What is wrong with a screenshot of one of our pages at `width`×`height`: its size, the dark blue bar at the top,
    /// text below it (not a blank or a black frame).
    static func problems(ofPage data: Data, width: Int, height: Int) -> [String] {
        guard let image = try? PNGImage(data) else { return ["not a PNG we can read"] }
        var problems: [String] = []
        if (image.width, image.height) != (width, height) { problems.append("\(image.width)×\(image.height), not \(width)×\(height)") }
        let corner = image.pixel(x: 8, y: 8)
        if !(corner.b > corner.r + 40 && corner.r + corner.g + corner.b < 400) { problems.append("no dark blue bar at the top: \(corner)") }
        let all = image.inkShare(), body = image.inkShare(rows: image.height / 2..<image.height)
        if !(0.03...0.85).contains(all) { problems.append("ink over the whole page: \(all)") }
        if body < 0.01 { problems.append("the lower half is empty: \(body)") }
        return problems
    }
}
