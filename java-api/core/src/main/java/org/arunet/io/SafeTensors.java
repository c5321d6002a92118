package org.arunet.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.arunet.tensor.DType;
import org.arunet.tensor.Half;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length, a UTF-8 JSON header {@code {name: {dtype, shape, data_offsets: [begin, end]},
 * "__metadata__": {string: string}}}, then the raw little-endian tensor data. It is our checkpoint
 * format and the format of the PyTorch reference's fixtures.
 *
 * <p>Files are untrusted: {@link #open} checks the header length against the file size and a 100 MB
 * cap, parses the JSON strictly (duplicate keys refused), and checks every entry's dtype, shape
 * (non-negative, no overflow), offsets (inside the data, size equal to elements x dtype size) and
 * that entries neither overlap nor leave holes. Anything else is refused with
 * {@link InvalidFileException} naming the file and the problem. No Java deserialisation is involved.
 *
 * <p>{@link #write} is atomic: data goes to a temporary file in the same folder, is forced to disk,
 * and is renamed over the target, so a crash leaves either the old file or the new one (and possibly
 * the temporary file, which {@link #removeUnfinishedWrites} deletes). A failed write (full disk,
 * unwritable folder) deletes its temporary file and leaves the old file as it was.
 */
public final class SafeTensors {
    /** Largest accepted JSON header (as the reference implementation). */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private SafeTensors() {}

    /** A malformed or hostile safetensors file. */
    public static final class InvalidFileException extends IOException {
        public InvalidFileException(Path file, String problem) {
            super(file + ": not a valid safetensors file: " + problem);
        }
    }

    /** One tensor's header entry; offsets are relative to the start of the data section. */
    public record Entry(String name, DType dtype, int[] shape, long begin, long end) {
        public long numel() {
            return Tensor.numel(shape);
        }
    }

    /** An opened file: header parsed and validated, data read on demand. */
    public static final class Reader implements AutoCloseable {
        private final Path file;
        private final FileChannel channel;
        private final long dataStart;
        private final Map<String, Entry> entries;
        private final Map<String, String> metadata;

        private Reader(
                Path file,
                FileChannel channel,
                long dataStart,
                Map<String, Entry> entries,
                Map<String, String> metadata) {
            this.file = file;
            this.channel = channel;
            this.dataStart = dataStart;
            this.entries = entries;
            this.metadata = metadata;
        }

        public Path file() {
            return file;
        }

        /** Entries in file order of their data. */
        public Map<String, Entry> entries() {
            return entries;
        }

        public Map<String, String> metadata() {
            return metadata;
        }

        public boolean contains(String name) {
            return entries.containsKey(name);
        }

        public Entry entry(String name) throws IOException {
            Entry e = entries.get(name);
            if (e == null) {
                throw new IOException(file + ": no tensor named '" + name + "'");
            }
            return e;
        }

        /** Reads a tensor into a new host tensor (the caller owns it). */
        public Tensor read(String name, Layout layout) throws IOException {
            Entry e = entry(name);
            Tensor t = Tensor.host(e.dtype(), e.shape().length == 4 ? layout : Layout.PLAIN, e.shape());
            try {
                readInto(e, t);
            } catch (IOException | RuntimeException ex) {
                t.close();
                throw ex;
            }
            return t;
        }

        /** Reads a tensor as F32 values. */
        public float[] readFloats(String name) throws IOException {
            Entry e = entry(name);
            if (e.dtype() != DType.F32) {
                throw new IOException(file + ": tensor '" + name + "' is " + e.dtype() + ", not F32");
            }
            ByteBuffer b = readBytes(e);
            float[] out = new float[(int) e.numel()];
            b.asFloatBuffer().get(out);
            return out;
        }

        /** Reads a tensor of integer type (I32 or I64) as longs. */
        public long[] readLongs(String name) throws IOException {
            Entry e = entry(name);
            ByteBuffer b = readBytes(e);
            long[] out = new long[(int) e.numel()];
            if (e.dtype() == DType.I64) {
                b.asLongBuffer().get(out);
            } else if (e.dtype() == DType.I32) {
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.getInt(4 * i);
                }
            } else {
                throw new IOException(file + ": tensor '" + name + "' is " + e.dtype() + ", not an integer type");
            }
            return out;
        }

        private ByteBuffer readBytes(Entry e) throws IOException {
            long n = e.end() - e.begin();
            if (n > Integer.MAX_VALUE) {
                throw new IOException(file + ": tensor '" + e.name() + "' too large to read into an array");
            }
            ByteBuffer b = ByteBuffer.allocate((int) n).order(ByteOrder.LITTLE_ENDIAN);
            readFully(dataStart + e.begin(), b);
            b.flip();
            return b;
        }

        /**
         * Copies a tensor's data into {@code dst}, which must have the same element count and the same
         * dtype, or be F32 where the file holds F16 (widened exactly: shipped models store float16).
         */
        public void readInto(String name, Tensor dst) throws IOException {
            readInto(entry(name), dst);
        }

        private void readInto(Entry e, Tensor dst) throws IOException {
            if (e.dtype() == DType.F16 && dst.dtype() == DType.F32 && e.numel() == dst.numel()) {
                ByteBuffer half = readBytes(e);
                byte[] out = new byte[(int) (4 * e.numel())];
                ByteBuffer f = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < e.numel(); i++) {
                    f.putFloat(Half.toFloat(half.getShort(2 * i)));
                }
                dst.memory().write(addrOffset(dst), out, 0, out.length);
                dst.bumpVersion();
                return;
            }
            if (e.dtype() != dst.dtype() || e.numel() != dst.numel()) {
                throw new IOException(file + ": tensor '" + e.name() + "' is " + e.dtype() + " "
                        + java.util.Arrays.toString(e.shape()) + ", cannot load into " + dst.describe());
            }
            long pos = dataStart + e.begin();
            long remaining = e.end() - e.begin();
            long off = 0;
            byte[] chunk = new byte[(int) Math.min(remaining, 1 << 20)];
            ByteBuffer buf = ByteBuffer.wrap(chunk);
            while (remaining > 0) {
                int n = (int) Math.min(remaining, chunk.length);
                buf.clear().limit(n);
                readFully(pos, buf);
                dst.memory().write(addrOffset(dst) + off, chunk, 0, n);
                pos += n;
                off += n;
                remaining -= n;
            }
            dst.bumpVersion();
        }

        private void readFully(long pos, ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                int r = channel.read(b, pos);
                if (r < 0) {
                    throw new InvalidFileException(file, "unexpected end of file at byte " + pos);
                }
                pos += r;
            }
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    /** Byte offset of a tensor inside its memory block. */
    private static long addrOffset(Tensor t) {
        return t.address() - t.memory().address();
    }

    /** Opens and validates a file. */
    public static Reader open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = ch.size();
            if (size < 8) {
                throw new InvalidFileException(
                        file, "file has " + size + " bytes, fewer than the 8-byte header length");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (lenBuf.hasRemaining()) {
                if (ch.read(lenBuf, lenBuf.position()) < 0) {
                    throw new InvalidFileException(file, "truncated header length");
                }
            }
            long headerLen = lenBuf.getLong(0);
            if (headerLen < 2 || headerLen > MAX_HEADER_BYTES || headerLen > size - 8) {
                throw new InvalidFileException(
                        file,
                        "header length " + Long.toUnsignedString(headerLen) + " is impossible for a file of " + size
                                + " bytes (limit " + MAX_HEADER_BYTES + ")");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            long pos = 8;
            while (hb.hasRemaining()) {
                int r = ch.read(hb, pos);
                if (r < 0) {
                    throw new InvalidFileException(file, "truncated header");
                }
                pos += r;
            }
            String json = new String(hb.array(), StandardCharsets.UTF_8);
            long dataStart = 8 + headerLen;
            Header h = parseHeader(file, json, size - dataStart);
            return new Reader(file, ch, dataStart, h.entries, h.metadata);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private record Header(Map<String, Entry> entries, Map<String, String> metadata) {}

    private static Header parseHeader(Path file, String json, long dataSize) throws InvalidFileException {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new InvalidFileException(file, "header is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new InvalidFileException(file, "header is not a JSON object");
        }
        Map<String, String> meta = new LinkedHashMap<>();
        List<Entry> list = new ArrayList<>();
        Iterator<Map.Entry<String, JsonNode>> it = root.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> f = it.next();
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw new InvalidFileException(file, "__metadata__ is not an object");
                }
                Iterator<Map.Entry<String, JsonNode>> mi = v.fields();
                while (mi.hasNext()) {
                    Map.Entry<String, JsonNode> m = mi.next();
                    if (!m.getValue().isTextual()) {
                        throw new InvalidFileException(file, "metadata value of '" + m.getKey() + "' is not a string");
                    }
                    meta.put(m.getKey(), m.getValue().asText());
                }
                continue;
            }
            list.add(parseEntry(file, name, v, dataSize));
        }
        list.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expect = 0;
        for (Entry e : list) {
            if (e.begin() < expect) {
                throw new InvalidFileException(file, "tensor '" + e.name() + "' overlaps the previous one");
            }
            if (e.begin() > expect) {
                throw new InvalidFileException(
                        file, "hole of " + (e.begin() - expect) + " bytes before tensor '" + e.name() + "'");
            }
            expect = e.end();
        }
        if (expect != dataSize) {
            throw new InvalidFileException(file, "data section has " + dataSize + " bytes but tensors cover " + expect);
        }
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Entry e : list) {
            entries.put(e.name(), e);
        }
        return new Header(Collections.unmodifiableMap(entries), Collections.unmodifiableMap(meta));
    }

    private static Entry parseEntry(Path file, String name, JsonNode v, long dataSize) throws InvalidFileException {
        String where = "tensor '" + name + "': ";
        if (!v.isObject()) {
            throw new InvalidFileException(file, where + "entry is not an object");
        }
        JsonNode dt = v.get("dtype");
        JsonNode sh = v.get("shape");
        JsonNode off = v.get("data_offsets");
        if (dt == null
                || !dt.isTextual()
                || sh == null
                || !sh.isArray()
                || off == null
                || !off.isArray()
                || off.size() != 2) {
            throw new InvalidFileException(
                    file, where + "needs dtype (string), shape (array), data_offsets ([begin, end])");
        }
        DType dtype;
        try {
            dtype = DType.fromSafetensors(dt.asText());
        } catch (IllegalArgumentException e) {
            throw new InvalidFileException(file, where + e.getMessage());
        }
        if (sh.size() > 8) {
            throw new InvalidFileException(file, where + "rank " + sh.size() + " is not supported");
        }
        int[] shape = new int[sh.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = sh.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToInt() || d.asInt() < 0) {
                throw new InvalidFileException(file, where + "bad dimension " + d);
            }
            shape[i] = d.asInt();
            try {
                numel = Math.multiplyExact(numel, (long) shape[i]);
            } catch (ArithmeticException ex) {
                numel = -1;
            }
            if (numel < 0 || numel > (Long.MAX_VALUE / 8)) {
                throw new InvalidFileException(file, where + "shape " + sh + " is too large");
            }
        }
        JsonNode b = off.get(0);
        JsonNode e = off.get(1);
        if (!b.isIntegralNumber() || !e.isIntegralNumber() || !b.canConvertToLong() || !e.canConvertToLong()) {
            throw new InvalidFileException(file, where + "data_offsets are not integers");
        }
        long begin = b.asLong();
        long end = e.asLong();
        if (begin < 0 || end < begin || end > dataSize) {
            throw new InvalidFileException(
                    file,
                    where + "data_offsets [" + begin + ", " + end + "] outside the data section of " + dataSize
                            + " bytes");
        }
        if (end - begin != numel * dtype.bytes()) {
            throw new InvalidFileException(
                    file,
                    where + "holds " + (end - begin) + " bytes but shape " + sh + " of " + dtype + " needs "
                            + numel * dtype.bytes());
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    /**
     * Writes tensors (any device) and string metadata atomically to {@code file}. Entries keep the map's
     * order.
     */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long off = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey().equals("__metadata__")) {
                throw new IllegalArgumentException("a tensor cannot be named __metadata__");
            }
            Tensor t = e.getValue();
            ObjectNode n = header.putObject(e.getKey());
            n.put("dtype", t.dtype().safetensorsName());
            ArrayNode s = n.putArray("shape");
            for (int d : t.shape()) {
                s.add(d);
            }
            ArrayNode o = n.putArray("data_offsets");
            o.add(off);
            o.add(off + t.bytes());
            off += t.bytes();
        }
        byte[] h = JSON.writeValueAsBytes(header);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded);
        head.put(h);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();

        Path dir = file.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, tempPrefix(file), TEMP_SUFFIX);
            try (FileChannel ch =
                    FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, head);
                for (Tensor t : tensors.values()) {
                    writeFully(ch, ByteBuffer.wrap(t.toByteArray()));
                }
                ch.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
            syncDirectory(dir);
        } catch (IOException | RuntimeException e) {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            if (e instanceof IOException io) {
                throw new IOException(
                        file + ": cannot write: " + reason(io) + "; any earlier " + file.getFileName()
                                + " is unchanged",
                        io);
            }
            throw e;
        }
    }

    private static final String TEMP_SUFFIX = ".tmp";

    private static String tempPrefix(Path file) {
        return "." + file.getFileName() + ".";
    }

    /**
     * Deletes the temporary files that {@link #write} leaves next to {@code file} when the process dies
     * in the middle of a write (a crash, SIGKILL, power loss); returns how many there were. Only the
     * owner of {@code file} may call it, when no write to it is in progress.
     */
    public static int removeUnfinishedWrites(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            return 0;
        }
        String prefix = tempPrefix(file);
        int n = 0;
        try (java.nio.file.DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) {
                String name = p.getFileName().toString();
                if (name.startsWith(prefix) && name.endsWith(TEMP_SUFFIX) && Files.isRegularFile(p)) {
                    Files.deleteIfExists(p);
                    n++;
                }
            }
        }
        return n;
    }

    /** What went wrong, in words: NIO's file-system exceptions carry the path as message and a reason. */
    private static String reason(IOException e) {
        if (e instanceof java.nio.file.FileSystemException f) {
            String why = f.getReason() != null
                    ? f.getReason()
                    : e instanceof java.nio.file.AccessDeniedException
                            ? "permission denied"
                            : e instanceof java.nio.file.FileAlreadyExistsException
                                    ? "a file is in the way"
                                    : e instanceof java.nio.file.NoSuchFileException
                                            ? "no such file or folder"
                                            : e.getClass().getSimpleName();
            return why + (f.getFile() != null ? " (" + f.getFile() + ")" : "");
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Makes the rename durable (Linux allows fsync on a directory opened for reading). */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException ignored) {
            // Some file systems refuse; the rename itself is still atomic.
        }
    }
}
