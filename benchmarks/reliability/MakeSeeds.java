import static org.bytedeco.opencv.global.opencv_imgcodecs.*;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;
import org.arunet.io.SafeTensors;
import org.arunet.model.UNet;
import org.arunet.nn.Init;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Checkpoint;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.opencv_core.Mat;

/**
 * Writes the seed inputs of the fuzz targets (docs/RELIABILITY.md): small valid files of every kind
 * each target reads, from which Jazzer's mutations start. Run from the repository root after
 * {@code mvn -B -o -q package -DskipTests -pl cli -am}:
 *
 * <pre>java -cp cli/target/arunet.jar benchmarks/reliability/MakeSeeds.java</pre>
 *
 * The files are committed; rerunning rewrites the same content except the JPEG/TIFF encoders' output,
 * which depends on the OpenCV version.
 */
public class MakeSeeds {
    static final Path IMAGES = Path.of("datasets/src/test/resources/org/arunet/data/io",
            "ImageFuzzTestInputs/imageAndMask");
    static final Path SPLITS = Path.of("datasets/src/test/resources/org/arunet/data/split",
            "SplitFuzzTestInputs/splitFile");
    static final Path TENSORS = Path.of("java-api/src/test/resources/org/arunet/io/SafeTensorsFuzzTestInputs/rawFile");
    static final Path CONFIGS = Path.of("cli/src/test/resources/org/arunet/cli/ConfigFuzzTestInputs/trainConfig");

    public static void main(String[] args) throws Exception {
        for (Path d : List.of(IMAGES, SPLITS, TENSORS, CONFIGS)) {
            Files.createDirectories(d);
        }
        images();
        splits();
        tensors();
        configs();
    }

    static Raster noise(int w, int h, int ch, int bits, long seed) {
        Random r = new Random(seed);
        Raster out = new Raster(w, h, ch, bits, new byte[w * h * ch * bits / 8]);
        for (long i = 0; i < out.samples(); i++) {
            out.setSample(i, r.nextInt(out.maxValue() + 1));
        }
        return out;
    }

    /** A Mat of any channel count (rasters hold 1 or 3) with random 8-bit samples. */
    static Mat mat(int w, int h, int ch, long seed) {
        Mat m = new Mat(h, w, org.bytedeco.opencv.global.opencv_core.CV_8UC(ch));
        byte[] b = new byte[w * h * ch];
        new Random(seed).nextBytes(b);
        m.data().put(b);
        return m;
    }

    /** A PNG written by hand (OpenCV cannot write grey+alpha): 8-bit samples, filter 0, random pixels. */
    static byte[] rawPng(int w, int h, int colourType, int channels, long seed) {
        byte[] rows = new byte[h * (1 + w * channels)];
        Random r = new Random(seed);
        for (int y = 0; y < h; y++) {
            for (int i = 1; i <= w * channels; i++) {
                rows[y * (1 + w * channels) + i] = (byte) r.nextInt(256);
            }
        }
        java.util.zip.Deflater d = new java.util.zip.Deflater();
        d.setInput(rows);
        d.finish();
        byte[] z = new byte[rows.length + 64];
        int n = d.deflate(z);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
        chunk(out, "IHDR", ByteBuffer.allocate(13).putInt(w).putInt(h).put((byte) 8).put((byte) colourType)
                .put((byte) 0).put((byte) 0).put((byte) 0).array());
        chunk(out, "IDAT", java.util.Arrays.copyOf(z, n));
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    static byte[] encode(Raster r, String ext, int... params) {
        return encode(OpenCv.toMat(r), ext, params);
    }

    static byte[] encode(Mat m, String ext, int... params) {
        BytePointer buf = new BytePointer();
        if (!imencode(ext, m, buf, new IntPointer(params))) {
            throw new IllegalStateException("cannot encode " + ext);
        }
        byte[] b = new byte[(int) buf.limit()];
        buf.get(b);
        return b;
    }

    static void images() throws Exception {
        Files.write(IMAGES.resolve("grey8.png"), encode(noise(8, 6, 1, 8, 1), ".png"));
        Files.write(IMAGES.resolve("grey16.png"), encode(noise(8, 6, 1, 16, 2), ".png"));
        Files.write(IMAGES.resolve("bgr.png"), encode(noise(6, 8, 3, 8, 3), ".png"));
        Files.write(IMAGES.resolve("bgra.png"), encode(mat(5, 5, 4, 4), ".png"));
        Files.write(IMAGES.resolve("greyalpha.png"), rawPng(5, 5, 4, 2, 5));
        Files.write(IMAGES.resolve("grey.jpg"), encode(noise(16, 8, 1, 8, 6), ".jpg", IMWRITE_JPEG_QUALITY, 50));
        Files.write(IMAGES.resolve("colour.jpg"), encode(noise(8, 16, 3, 8, 7), ".jpg", IMWRITE_JPEG_QUALITY, 50));
        Files.write(IMAGES.resolve("progressive.jpg"), encode(noise(16, 16, 3, 8, 8), ".jpg",
                IMWRITE_JPEG_PROGRESSIVE, 1, IMWRITE_JPEG_QUALITY, 40));
        Files.write(IMAGES.resolve("bgr.bmp"), encode(noise(5, 3, 3, 8, 9), ".bmp"));
        Files.write(IMAGES.resolve("grey.bmp"), encode(noise(6, 3, 1, 8, 10), ".bmp"));
        Files.write(IMAGES.resolve("grey.tif"), encode(noise(6, 4, 1, 8, 11), ".tif", IMWRITE_TIFF_COMPRESSION, 1));
        Files.write(IMAGES.resolve("grey16-lzw.tif"), encode(noise(6, 4, 1, 16, 12), ".tif"));
        Files.write(IMAGES.resolve("bgr-lzw.tif"), encode(noise(4, 4, 3, 8, 13), ".tif"));
        // Palette (indexed) and 1-bit PNGs, as masks often are; written by javax.imageio.
        byte[] pal = {0, (byte) 255, 0, (byte) 128};
        BufferedImage indexed = new BufferedImage(6, 4, BufferedImage.TYPE_BYTE_INDEXED,
                new IndexColorModel(2, 4, pal, pal, pal));
        BufferedImage bits = new BufferedImage(6, 4, BufferedImage.TYPE_BYTE_BINARY);
        for (int y = 0; y < 4; y++) {
            for (int x = 0; x < 6; x++) {
                indexed.getRaster().setSample(x, y, 0, (x + y) % 4);
                bits.getRaster().setSample(x, y, 0, (x * y) % 2);
            }
        }
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ImageIO.write(indexed, "png", o);
        Files.write(IMAGES.resolve("palette.png"), o.toByteArray());
        o.reset();
        ImageIO.write(bits, "png", o);
        Files.write(IMAGES.resolve("onebit.png"), o.toByteArray());
    }

    static void splits() throws Exception {
        String valid = """
                {
                  "formatVersion" : 1,
                  "seed" : 42,
                  "method" : "stratified by class",
                  "fractions" : [ 0.5, 0.25, 0.25 ],
                  "counts" : { "benign" : { "train" : 2, "val" : 1, "test" : 1 } },
                  "duplicateGroups" : 1,
                  "samplesInDuplicateGroups" : 2,
                  "duplicates" : [ [ "images/a.png", "images/b.png" ] ],
                  "train" : [ "images/a.png", "images/b.png" ],
                  "val" : [ "images/c.png" ],
                  "test" : [ "d.png" ]
                }
                """;
        Files.writeString(SPLITS.resolve("valid.json"), valid);
        Files.writeString(SPLITS.resolve("escape.json"), valid.replace("\"d.png\"", "\"../outside.png\""));
        Files.writeString(SPLITS.resolve("minimal.json"), "{\"formatVersion\":1,\"seed\":0,\"method\":\"m\","
                + "\"fractions\":[],\"counts\":{},\"duplicateGroups\":0,\"samplesInDuplicateGroups\":0,"
                + "\"duplicates\":[],\"train\":[\"d.png\"],\"val\":[],\"test\":[]}");
    }

    static void tensors() throws Exception {
        Path f = TENSORS.resolve("small.safetensors");
        try (Tensor a = Tensor.of(new float[] {1, -2, 3.5f, 4, 5, 6}, Layout.PLAIN, 2, 3);
                Tensor b = Tensor.host(DType.I64, Layout.PLAIN);
                Tensor c = Tensor.ofInts(new int[] {7, 8, 9}, 3)) {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("w", a);
            m.put("n", b);
            m.put("c", c);
            SafeTensors.write(f, m, Map.of("note", "seed"));
        }
        byte[] empty = "{}      ".getBytes(StandardCharsets.UTF_8);
        Files.write(TENSORS.resolve("empty.safetensors"), ByteBuffer.allocate(8 + empty.length)
                .order(ByteOrder.LITTLE_ENDIAN).putLong(empty.length).put(empty).array());
        // A real checkpoint of the smallest network (U-Net of width 1), model only.
        try (Backend be = Backends.reference(); UNet net = new UNet(be, 1, 2, 1, false, Init.Scheme.PYTORCH, 1)) {
            Checkpoint.save(TENSORS.resolve("unet-width1.safetensors"), net, null, Map.of("preprocessing",
                    "{\"image_size\":\"16\",\"channels\":\"1\",\"mean\":\"0.5\",\"std\":\"0.5\"}"));
        }
    }

    static void configs() throws Exception {
        Files.writeString(CONFIGS.resolve("typical.json"), """
                {"epochs": 3, "batch-size": 2, "image-size": 32, "lr": 1e-4, "loss": "ce-dice",
                 "ratios": [0.7, 0.1, 0.2], "augment": false, "width": 8, "mcsa-stages": "3,2"}
                """);
        Files.writeString(CONFIGS.resolve("unknown-key.json"), "{\"epoch\": 3}");
        Files.writeString(CONFIGS.resolve("bad-value.json"), "{\"epochs\": \"many\", \"preset\": \"authors-code\"}");
        Files.writeString(CONFIGS.resolve("resume.json"), "{\"resume\": true, \"channel-attention\": \"se\"}");
    }
}
