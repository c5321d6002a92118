package org.arunet.spark;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.stream.Collectors;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkEnv;
import org.arunet.pretrained.ModelCard;
import org.arunet.pretrained.PretrainedModels;
import scala.Tuple2;

/**
 * Where an executor finds the model that {@link SegmentOptions#model()} names: a shipped model on the
 * class path (the {@code arunet-models} artifact in the job's jars), a checkpoint file every executor can
 * read (a shared mount), or a checkpoint on a Hadoop file system (HDFS, S3, ...), copied once into this
 * JVM's temporary folder.
 *
 * @param checkpoint the local checkpoint file
 * @param name the model's name for the rows
 * @param version the model's version for the rows
 */
record ModelSource(Path checkpoint, String name, String version) {

    static ModelSource resolve(String model) throws IOException {
        URI uri = uriWithScheme(model);
        if (uri == null || "file".equalsIgnoreCase(uri.getScheme())) {
            Path p = uri == null ? Path.of(model) : Path.of(uri);
            if (!Files.exists(p)) {
                PretrainedModels zoo = PretrainedModels.onClassPath();
                if (uri == null && zoo.contains(model)) {
                    ModelCard c = zoo.card(model);
                    return new ModelSource(zoo.checkpoint(model), c.name(), c.version());
                }
                String known = zoo.list().stream().map(ModelCard::name).collect(Collectors.joining(", "));
                throw new IOException("model " + model + ": no such checkpoint file on this machine, and no shipped"
                        + " model of that name on the class path (known: " + (known.isEmpty() ? "none" : known)
                        + ")");
            }
            return checkpointFile(p);
        }
        return checkpointFile(copyToLocal(uri));
    }

    private static ModelSource checkpointFile(Path p) throws IOException {
        if (!Files.isRegularFile(p)) {
            throw new IOException("model " + p + ": not a regular file");
        }
        String sha = PretrainedModels.sha256(p);
        return new ModelSource(p, p.getFileName().toString(), "sha256:" + sha.substring(0, 12));
    }

    /** A URI with a scheme of two letters or more ({@code C:\...} is a Windows path, not a URI), else null. */
    private static URI uriWithScheme(String s) {
        try {
            URI u = new URI(s);
            return u.getScheme() != null && u.getScheme().length() > 1 ? u : null;
        } catch (URISyntaxException e) {
            return null;
        }
    }

    /** Copies a checkpoint from a Hadoop file system into the temporary folder, once per JVM and URI. */
    private static Path copyToLocal(URI uri) throws IOException {
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "arunet-spark-models", digest(uri.toString()));
        String file = Path.of(uri.getPath()).getFileName().toString();
        Path target = dir.resolve(file);
        synchronized (ModelSource.class) {
            if (Files.isRegularFile(target)) {
                return target;
            }
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "." + file, ".part");
            try {
                org.apache.hadoop.fs.Path src = new org.apache.hadoop.fs.Path(uri);
                FileSystem fs = src.getFileSystem(hadoopConf());
                try (InputStream in = fs.open(src)) {
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                }
                try {
                    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
                }
            } catch (IOException e) {
                throw new IOException("model " + uri + ": cannot copy it to this executor: " + e.getMessage(), e);
            } finally {
                Files.deleteIfExists(tmp);
            }
            return target;
        }
    }

    /** The Hadoop configuration with the job's {@code spark.hadoop.*} settings (credentials, endpoints). */
    static Configuration hadoopConf() {
        Configuration conf = new Configuration();
        SparkEnv env = SparkEnv.get();
        if (env != null) {
            for (Tuple2<String, String> kv : env.conf().getAllWithPrefix("spark.hadoop.")) {
                conf.set(kv._1(), kv._2());
            }
        }
        return conf;
    }

    private static String digest(String s) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
