package org.arunet.spark;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Segments images on Apache Spark.
 *
 * <pre>{@code
 * Dataset<Row> images = spark.read().format("binaryFile").load("hdfs:///archive/2026/*.png");
 * Dataset<Row> rows = ArunetSpark.segment(images, SegmentOptions.of("busi-compact"));
 * rows.write().parquet("hdfs:///archive/2026-masks.parquet");
 * }</pre>
 *
 * <p>The input is any dataset with a {@code path} (string) and a {@code content} (binary) column, as
 * Spark's {@code binaryFile} source gives. The output has one row per image, or per frame of a
 * multi-frame DICOM file, with the columns of {@link #SCHEMA}: the mask as PNG (byte for byte what
 * {@code arunet predict} writes), the lesion's area in pixels and, where the file states its pixel spacing
 * (DICOM), in mm², its bounding box, the mean lesion probability, the model's name and version, and
 * {@code error}: null when the image was segmented, else what was wrong with it. A bad file never fails
 * the job: it gets a row with its error and no mask. (Spark's {@code binaryFile} source gives no row for
 * an empty file, so neither does this; {@link SegmentJob} lists its inputs itself and gives empty and
 * missing files their error rows.)
 *
 * <p>Each executor loads the model once ({@link ExecutorModels}) with one replica per task slot and
 * shares it among its tasks; each task reads its partition in batches of
 * {@link SegmentOptions#batchSize()} rows. Tasks with a GPU (Spark's resource scheduling:
 * {@code spark.executor.resource.gpu.amount}, {@code spark.task.resource.gpu.amount}) run on it. The
 * rows are a function of the files alone, so a task that Spark re-runs after losing an executor gives the
 * same rows.
 */
public final class ArunetSpark {
    private ArunetSpark() {}

    /** The output columns (all nullable but {@code path}, {@code frame}, {@code model}, {@code model_version}). */
    public static final StructType SCHEMA = new StructType(new StructField[] {
        field("path", DataTypes.StringType, false),
        field("frame", DataTypes.IntegerType, false),
        field("width", DataTypes.IntegerType, true),
        field("height", DataTypes.IntegerType, true),
        field("mask", DataTypes.BinaryType, true),
        field("lesion_pixels", DataTypes.LongType, true),
        field("lesion_fraction", DataTypes.DoubleType, true),
        field("lesion_area_mm2", DataTypes.DoubleType, true),
        field("bbox_x", DataTypes.IntegerType, true),
        field("bbox_y", DataTypes.IntegerType, true),
        field("bbox_w", DataTypes.IntegerType, true),
        field("bbox_h", DataTypes.IntegerType, true),
        field("mean_lesion_probability", DataTypes.DoubleType, true),
        field("pixel_spacing_row_mm", DataTypes.DoubleType, true),
        field("pixel_spacing_col_mm", DataTypes.DoubleType, true),
        field("pixel_spacing_source", DataTypes.StringType, true),
        field("model", DataTypes.StringType, false),
        field("model_version", DataTypes.StringType, false),
        field("error", DataTypes.StringType, true)
    });

    private static StructField field(String name, DataType type, boolean nullable) {
        return DataTypes.createStructField(name, type, nullable);
    }

    /**
     * Segments every row of {@code images} (columns {@code path} and {@code content}; others are ignored).
     * Lazy, like any transformation: nothing runs until an action (a write, a count).
     *
     * @throws IllegalArgumentException when {@code images} lacks one of the two columns or has another type
     */
    public static Dataset<Row> segment(Dataset<Row> images, SegmentOptions options) {
        Objects.requireNonNull(options, "options");
        StructType in = images.schema();
        require(in, "path", DataTypes.StringType);
        require(in, "content", DataTypes.BinaryType);
        return images.select("path", "content").mapPartitions(new SegmentPartition(options), Encoders.row(SCHEMA));
    }

    private static void require(StructType schema, String name, DataType type) {
        if (!Arrays.asList(schema.fieldNames()).contains(name)) {
            throw new IllegalArgumentException("the images have no column '" + name + "' (columns: "
                    + String.join(", ", schema.fieldNames()) + "); read them with"
                    + " spark.read().format(\"binaryFile\"), which gives path and content");
        }
        DataType t = schema.apply(name).dataType();
        if (!t.equals(type)) {
            throw new IllegalArgumentException(
                    "column '" + name + "' is " + t.simpleString() + ", not " + type.simpleString());
        }
    }

    /** Reads files with Spark's {@code binaryFile} source (path, modificationTime, length, content). */
    public static Dataset<Row> readImages(SparkSession spark, List<String> files) {
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no files to read");
        }
        return spark.read().format("binaryFile").load(files.toArray(String[]::new));
    }

    /** The row of a {@link FrameResult}, in {@link #SCHEMA}'s order. */
    static Row toRow(FrameResult f) {
        int[] b = f.bbox();
        return RowFactory.create(
                f.path(),
                f.frame(),
                f.width(),
                f.height(),
                f.maskPng(),
                f.lesionPixels(),
                f.lesionFraction(),
                f.lesionAreaMm2(),
                b == null ? null : b[0],
                b == null ? null : b[1],
                b == null ? null : b[2],
                b == null ? null : b[3],
                f.meanLesionProbability(),
                f.spacingRowMm(),
                f.spacingColMm(),
                f.spacingSource(),
                f.model(),
                f.modelVersion(),
                f.error());
    }

    /** One task's work: its partition's rows in batches, through the executor's shared model. */
    static final class SegmentPartition implements MapPartitionsFunction<Row, Row> {
        private static final long serialVersionUID = 1L;
        private final SegmentOptions options;

        SegmentPartition(SegmentOptions options) {
            this.options = options;
        }

        @Override
        public Iterator<Row> call(Iterator<Row> input) {
            if (!input.hasNext()) {
                return input; // an empty partition loads no model
            }
            ImageSegmenter images = segmenter();
            return new Iterator<>() {
                private final ArrayDeque<Row> ready = new ArrayDeque<>();

                @Override
                public boolean hasNext() {
                    while (ready.isEmpty() && input.hasNext()) {
                        for (int i = 0; i < options.batchSize() && input.hasNext(); i++) {
                            Row r = input.next();
                            byte[] content = r.isNullAt(1) ? null : (byte[]) r.get(1);
                            for (FrameResult f : images.segment(r.getString(0), content)) {
                                ready.add(toRow(f));
                            }
                        }
                    }
                    return !ready.isEmpty();
                }

                @Override
                public Row next() {
                    if (!hasNext()) {
                        throw new NoSuchElementException();
                    }
                    return ready.poll();
                }
            };
        }

        private ImageSegmenter segmenter() {
            SparkEnv env = SparkEnv.get();
            SparkConf conf = env != null ? env.conf() : new SparkConf(false);
            int processors = Runtime.getRuntime().availableProcessors();
            TaskContext tc = TaskContext.get();
            String[] gpus = null;
            if (tc != null) {
                ResourceInformation gpu = tc.resourcesJMap().get("gpu");
                gpus = gpu == null ? null : gpu.addresses();
            }
            String device = ExecutorResources.deviceFor(options.device(), gpus, System.getenv("CUDA_VISIBLE_DEVICES"));
            int threads = options.threads() > 0 ? options.threads() : ExecutorResources.executorCores(conf, processors);
            int replicas = options.replicas() > 0 ? options.replicas() : ExecutorResources.taskSlots(conf, processors);
            ExecutorModels.Loaded m = ExecutorModels.get(new ExecutorModels.Key(
                    options.model(), device, threads, replicas, options.flipTta(), options.largestComponent()));
            return new ImageSegmenter(
                    m.segmenter(), m.source().name(), m.source().version(), options.masks());
        }
    }
}
