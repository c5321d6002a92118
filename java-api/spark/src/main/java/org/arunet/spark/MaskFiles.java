package org.arunet.spark;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Iterator;
import java.util.Locale;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;

/**
 * Writes each row's mask PNG into a folder as {@code arunet predict} names them ({@code <name>.png}, and
 * {@code <name>_frames/frame_0001.png, ...} for the frames of a multi-frame file) and passes the rows
 * on. Each file is written whole under a temporary name and then renamed, and holds the same bytes
 * whenever its row is computed again, so a task that Spark re-runs (after an executor loss) leaves the
 * folder as one run would. Local folders ({@code file:} or a plain path) are written directly; other
 * file systems through Hadoop's API.
 */
final class MaskFiles implements MapPartitionsFunction<Row, Row> {
    private static final long serialVersionUID = 1L;
    private final String folder;

    /** @param folder the masks' folder, as a path or a URI */
    MaskFiles(String folder) {
        this.folder = folder;
    }

    /** The mask's file name under the folder, as predict names it. */
    static String maskName(String path, int frame) {
        String stem = stem(path);
        return frame == 0 ? stem + ".png" : stem + "_frames/" + String.format(Locale.ROOT, "frame_%04d.png", frame);
    }

    /** The file name without its folder and extension (as {@code Segmenter.stem}). */
    static String stem(String path) {
        String p = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        String n = p.substring(p.lastIndexOf('/') + 1);
        int dot = n.lastIndexOf('.');
        return dot > 0 ? n.substring(0, dot) : n;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        int mask = ArunetSpark.SCHEMA.fieldIndex("mask");
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return rows.hasNext();
            }

            @Override
            public Row next() {
                Row r = rows.next();
                if (!r.isNullAt(mask)) {
                    write(maskName(r.getString(0), r.getInt(1)), (byte[]) r.get(mask));
                }
                return r;
            }
        };
    }

    private void write(String name, byte[] png) {
        try {
            URI u = folder.contains(":") ? URI.create(folder) : null;
            if (u == null || u.getScheme() == null || "file".equalsIgnoreCase(u.getScheme())) {
                Path dir = u == null || u.getScheme() == null ? Path.of(folder) : Path.of(u);
                writeLocal(dir.resolve(name), png);
            } else {
                writeHadoop(new org.apache.hadoop.fs.Path(new org.apache.hadoop.fs.Path(folder), name), png);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write mask " + name + " into " + folder + ": " + e.getMessage(), e);
        }
    }

    private static void writeLocal(Path target, byte[] png) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
        try {
            Files.write(tmp, png);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void writeHadoop(org.apache.hadoop.fs.Path target, byte[] png) throws IOException {
        FileSystem fs = target.getFileSystem(ModelSource.hadoopConf());
        org.apache.hadoop.fs.Path tmp =
                new org.apache.hadoop.fs.Path(target.getParent(), "." + target.getName() + "." + System.nanoTime());
        try (OutputStream out = fs.create(tmp, true)) {
            out.write(png);
        }
        fs.delete(target, false);
        if (!fs.rename(tmp, target)) {
            fs.delete(tmp, false);
            throw new IOException("rename to " + target + " failed");
        }
    }
}
