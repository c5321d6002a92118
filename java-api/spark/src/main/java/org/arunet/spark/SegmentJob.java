package org.arunet.spark;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.arunet.data.io.ImageFormat;

/**
 * The {@code spark-submit} job: segments the images of folders or lists and writes a Parquet table
 * (the columns of {@link ArunetSpark#SCHEMA}), optionally the mask PNGs into a folder, and prints the
 * throughput.
 *
 * <pre>
 * spark-submit --class org.arunet.spark.SegmentJob --jars arunet.jar arunet-spark-0.2.0.jar \
 *     --input hdfs:///archive/2026 --output hdfs:///results/2026.parquet --masks hdfs:///results/2026-masks
 * </pre>
 *
 * <p>An input is a folder (its image files, not recursive, chosen as {@code arunet predict} chooses
 * them: an image extension, or no extension and a DICOM preamble), a list ({@code .txt} or {@code .lst}:
 * one path or URI per line, {@code #} comments, relative paths against the list's folder) or a file. A
 * listed file that does not exist gets a row with its error; a folder or file named on the command
 * line that does not exist stops the job before it starts. Options: see {@link #USAGE}.
 */
public final class SegmentJob {
    private SegmentJob() {}

    static final String USAGE = String.join(
            "\n",
            "usage: SegmentJob --input FOLDER|LIST|FILE [--input ...] --output PARQUET [options]",
            "  --masks FOLDER          also write the mask PNGs there, named as arunet predict names them",
            "  --model NAME|FILE|URI   a shipped model or a checkpoint every executor can read (default busi-compact)",
            "  --device D              cpu, cuda, cuda:bf16 or auto (default auto; tasks given a GPU use it)",
            "  --threads N             CPU threads of each executor's model (default: the executor's cores)",
            "  --replicas N            model replicas per executor (default: its task slots)",
            "  --batch N               rows a task takes at a time (default 8)",
            "  --partitions N          repartition the files into N partitions (default: Spark's file splitting)",
            "  --no-mask-column        leave the mask column empty (measures only; --masks still writes files)",
            "  --tta                   average with the prediction of the mirrored image",
            "  --largest-component     keep only the largest lesion",
            "  --master M              Spark master when not given by spark-submit (default local[*])");

    /**
     * What a run did.
     *
     * @param files the input files (missing and empty listed ones included)
     * @param rows the rows written (one per image, or per frame of a multi-frame file)
     * @param errors the rows with an error
     * @param seconds from listing the inputs to the Parquet table written
     */
    public record Summary(long files, long rows, long errors, double seconds) {
        public double imagesPerSecond() {
            return files / Math.max(seconds, 1e-9);
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a;
        try {
            a = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
            return;
        }
        SparkSession spark = session(a.get("master"));
        try {
            run(spark, a, System.out);
        } finally {
            spark.stop();
        }
    }

    /** A session with the models' executor plugin (and {@code master} when spark-submit gave none). */
    static SparkSession session(String master) {
        SparkSession.Builder b = SparkSession.builder().appName("arunet segment");
        if (master != null) {
            b.master(master);
        } else if (System.getProperty("spark.master") == null) {
            b.master("local[*]");
        }
        String plugins = System.getProperty("spark.plugins", "");
        if (!plugins.contains(ArunetSparkPlugin.class.getName())) {
            b.config(
                    "spark.plugins",
                    plugins.isBlank()
                            ? ArunetSparkPlugin.class.getName()
                            : plugins + "," + ArunetSparkPlugin.class.getName());
        }
        return b.getOrCreate();
    }

    /** Parses the arguments into option name to value ("true" for flags; inputs joined by a newline). */
    static Map<String, String> parse(String[] args) {
        Map<String, String> m = new HashMap<>();
        List<String> flags = List.of("no-mask-column", "tta", "largest-component");
        List<String> valued = List.of(
                "input", "output", "masks", "model", "device", "threads", "replicas", "batch", "partitions", "master");
        for (int i = 0; i < args.length; i++) {
            String k = args[i].startsWith("--") ? args[i].substring(2) : null;
            if (k != null && flags.contains(k)) {
                m.put(k, "true");
            } else if (k != null && valued.contains(k)) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(args[i] + " needs a value");
                }
                String v = args[++i];
                m.merge(k, v, (x, y) -> k.equals("input") ? x + "\n" + y : y);
            } else {
                throw new IllegalArgumentException("unknown argument: " + args[i]);
            }
        }
        if (!m.containsKey("input") || !m.containsKey("output")) {
            throw new IllegalArgumentException("--input and --output are required");
        }
        return m;
    }

    private static int intOption(Map<String, String> a, String k, int dflt) {
        String v = a.get(k);
        if (v == null) {
            return dflt;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + k + " takes a whole number, got " + v);
        }
    }

    /**
     * Runs the job with the arguments of {@link #main} on an existing session (not stopped here; its
     * settings, not {@code --master}, apply) and prints what it did to {@code out}.
     *
     * @throws IllegalArgumentException for bad arguments or inputs, before anything runs
     * @throws IOException when the model cannot be found or read, before anything runs
     */
    public static Summary run(SparkSession spark, PrintStream out, String... args) throws IOException {
        return run(spark, parse(args), out);
    }

    static Summary run(SparkSession spark, Map<String, String> a, PrintStream out) throws IOException {
        SegmentOptions options = SegmentOptions.of(a.getOrDefault("model", "busi-compact"))
                .withDevice(a.getOrDefault("device", "auto"))
                .withThreads(intOption(a, "threads", 0))
                .withReplicas(intOption(a, "replicas", 0))
                .withBatchSize(intOption(a, "batch", 8))
                .withFlipTta(a.containsKey("tta"))
                .withLargestComponent(a.containsKey("largest-component"));
        String masksFolder = a.get("masks");
        boolean maskColumn = !a.containsKey("no-mask-column");
        options = options.withMasks(maskColumn || masksFolder != null);
        int partitions = intOption(a, "partitions", 0);

        // On the driver: the model must exist (fail now, not in every task), and the inputs are listed.
        ModelSource model = ModelSource.resolve(options.model());
        long t0 = System.nanoTime();
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        List<String> missing = new ArrayList<>();
        List<String> empty = new ArrayList<>();
        List<String> files = listInputs(List.of(a.get("input").split("\n")), conf, missing, empty);
        checkMaskNames(files, masksFolder);
        if (files.isEmpty() && missing.isEmpty() && empty.isEmpty()) {
            throw new IllegalArgumentException(
                    "no images found in " + a.get("input").replace('\n', ' '));
        }

        // Spark's defaults split files by bytes and list many paths with one task per path; an image's cost
        // follows its count, not its bytes: about four partitions per task slot, and one listing task per slot.
        int slots = Math.max(1, spark.sparkContext().defaultParallelism());
        Map<String, String> tuned = new HashMap<>();
        tuned.put("spark.sql.sources.parallelPartitionDiscovery.parallelism", Integer.toString(slots));
        if (partitions == 0) {
            tuned.put(
                    "spark.sql.files.minPartitionNum",
                    Integer.toString(Math.max(1, Math.min(files.size(), 4 * slots))));
            tuned.put("spark.sql.files.maxPartitionBytes", Long.toString(Long.MAX_VALUE / 4));
        }
        Map<String, String> restore = new HashMap<>();
        for (Map.Entry<String, String> e : tuned.entrySet()) {
            if (spark.conf().getAll().contains(e.getKey())) {
                continue; // set by the user: kept (getOption would also give Spark's default)
            }
            restore.put(e.getKey(), null);
            spark.conf().set(e.getKey(), e.getValue());
        }
        try {
            write(spark, options, model, files, missing, empty, partitions, masksFolder, maskColumn, a.get("output"));
        } finally {
            restore.keySet().forEach(spark.conf()::unset);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;

        Dataset<Row> written = spark.read().parquet(a.get("output"));
        long n = written.count();
        long errors = written.filter(functions.col("error").isNotNull()).count();
        Summary s = new Summary(files.size() + missing.size() + empty.size(), n, errors, seconds);
        out.printf(
                Locale.ROOT,
                "%d files, %d rows (%d with an error) written to %s%s in %.2f s: %.2f images/s"
                        + " (master %s, model %s %s)%n",
                s.files(),
                s.rows(),
                s.errors(),
                a.get("output"),
                masksFolder != null ? " and masks to " + masksFolder : "",
                s.seconds(),
                s.imagesPerSecond(),
                spark.sparkContext().master(),
                model.name(),
                model.version());
        return s;
    }

    private static void write(
            SparkSession spark,
            SegmentOptions options,
            ModelSource model,
            List<String> files,
            List<String> missing,
            List<String> empty,
            int partitions,
            String masksFolder,
            boolean maskColumn,
            String output) {
        Dataset<Row> rows = null;
        if (!files.isEmpty()) {
            Dataset<Row> images = ArunetSpark.readImages(spark, files);
            if (partitions > 0) {
                images = images.repartition(partitions);
            }
            rows = ArunetSpark.segment(images, options);
            if (masksFolder != null) {
                rows = rows.mapPartitions(new MaskFiles(masksFolder), Encoders.row(ArunetSpark.SCHEMA));
            }
            if (!maskColumn) {
                rows = rows.withColumn("mask", functions.lit(null).cast(DataTypes.BinaryType));
            }
        }
        if (!missing.isEmpty() || !empty.isEmpty()) {
            // binaryFile gives no row for these: their rows are made here
            List<Row> failed = new ArrayList<>();
            for (String m : missing) {
                failed.add(ArunetSpark.toRow(
                        FrameResult.failed(m, model.name(), model.version(), m + ": file does not exist")));
            }
            for (String e : empty) {
                failed.add(ArunetSpark.toRow(
                        FrameResult.failed(e, model.name(), model.version(), e + ": file is empty (0 bytes)")));
            }
            Dataset<Row> f = spark.createDataFrame(failed, ArunetSpark.SCHEMA);
            rows = rows == null ? f : rows.unionByName(f);
        }
        rows.write().mode(SaveMode.Overwrite).parquet(output);
    }

    /** Two inputs with the same name would write the same mask file: refused, as predict refuses them. */
    private static void checkMaskNames(List<String> files, String masksFolder) {
        if (masksFolder == null) {
            return;
        }
        Map<String, String> byStem = new HashMap<>();
        for (String f : files) {
            String prev = byStem.put(MaskFiles.stem(f), f);
            if (prev != null) {
                throw new IllegalArgumentException(
                        "two inputs would write the same mask " + MaskFiles.stem(f) + ".png: " + prev + " and " + f);
            }
        }
    }

    /**
     * The image files of the inputs as fully qualified URIs (the form of binaryFile's {@code path}),
     * sorted; the listed files that do not exist go to {@code missing}, and empty files (which the
     * binaryFile source skips) to {@code empty}.
     */
    static List<String> listInputs(List<String> inputs, Configuration conf, List<String> missing, List<String> empty)
            throws IOException {
        TreeSet<String> out = new TreeSet<>();
        TreeSet<String> none = new TreeSet<>();
        for (String in : inputs) {
            Path p = new Path(in);
            FileSystem fs = p.getFileSystem(conf);
            if (!fs.exists(p)) {
                throw new IllegalArgumentException(in + ": no such file or folder");
            }
            FileStatus st = fs.getFileStatus(p);
            if (st.isDirectory()) {
                for (FileStatus c : fs.listStatus(p)) {
                    if (c.isFile() && isImage(fs, c.getPath())) {
                        (c.getLen() > 0 ? out : none)
                                .add(fs.makeQualified(c.getPath()).toString());
                    }
                }
            } else if (isList(p.getName())) {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(fs.open(p), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        line = line.strip();
                        if (line.isEmpty() || line.startsWith("#")) {
                            continue;
                        }
                        Path f = new Path(line);
                        if (!f.isAbsolute() && f.toUri().getScheme() == null) {
                            f = new Path(p.getParent(), line);
                        }
                        FileSystem ffs = f.getFileSystem(conf);
                        if (ffs.isFile(f)) {
                            (ffs.getFileStatus(f).getLen() > 0 ? out : none)
                                    .add(ffs.makeQualified(f).toString());
                        } else {
                            missing.add(line);
                        }
                    }
                }
            } else {
                (st.getLen() > 0 ? out : none).add(fs.makeQualified(p).toString());
            }
        }
        empty.addAll(none);
        return new ArrayList<>(out);
    }

    private static boolean isList(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        return n.endsWith(".txt") || n.endsWith(".lst");
    }

    /** As {@code ImageFormat.isImageFile}: an image extension, or no extension and a DICOM preamble. */
    private static boolean isImage(FileSystem fs, Path f) throws IOException {
        String name = f.getName();
        if (ImageFormat.hasImageExtension(name)) {
            return true;
        }
        if (name.indexOf('.') > 0) {
            return false;
        }
        try (InputStream in = fs.open(f)) {
            return ImageFormat.sniff(in.readNBytes(132)) == ImageFormat.DICOM;
        }
    }
}
