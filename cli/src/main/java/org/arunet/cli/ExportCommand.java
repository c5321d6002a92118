package org.arunet.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.arunet.data.sample.BusiMini;
import org.arunet.infer.Segmenter;
import org.arunet.onnx.BioImageIo;
import org.arunet.onnx.OnnxExporter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "export",
        mixinStandardHelpOptions = true,
        showDefaultValues = true,
        usageHelpAutoWidth = true,
        description = {
            "Write a checkpoint's model with its weights as ONNX (opset " + OnnxExporter.OPSET + "), for"
                    + " ONNX Runtime or any other ONNX consumer.",
            "Input 'image': float32 NCHW [N, C, H, W], N, H and W dynamic (H and W multiples of 16), preprocessed"
                    + " as in training (the 'preprocessing' metadata of the file records how). Output 'logits':"
                    + " float32 [N, classes, H, W]; with --probabilities also 'probabilities' (softmax over classes)."
                    + " BatchNorm uses its running statistics. Metadata: arunet version, architecture, preprocessing.",
            "--format bioimageio writes a bioimage.io model package (zip, format " + BioImageIo.FORMAT_VERSION + "):"
                    + " rdf.yaml, the ONNX weights (with probabilities), test input and outputs made by arunet on --sample,"
                    + " a cover overlay and documentation, for deepImageJ, Icy, QuPath and the bioimage.io tools."
        })
final class ExportCommand extends BaseCommand {
    enum Format {
        onnx,
        bioimageio
    }

    @Mixin
    ModelRef model = new ModelRef();

    @Option(
            names = "--format",
            defaultValue = "onnx",
            description = "onnx (a .onnx file, --onnx) or bioimageio (a" + " bioimage.io model package, --out).")
    Format format;

    @Option(names = "--onnx", paramLabel = "FILE", description = "ONNX file to write (--format onnx).")
    Path onnx;

    @Option(
            names = "--out",
            paramLabel = "FILE",
            description = "Package to write (--format bioimageio), e.g." + " model.bioimageio.zip.")
    Path out;

    @Option(
            names = "--sample",
            paramLabel = "IMAGE",
            description = "Image for the package's test tensors and cover"
                    + " (--format bioimageio; default: the first image of the bundled BUSI sample).")
    Path sample;

    @Option(names = "--name", description = "Model name in the package (5 to 64 characters; default: from --model).")
    String name;

    @Option(
            names = "--license",
            defaultValue = "Apache-2.0",
            description = "SPDX licence of the weights, stated in the"
                    + " package (BUSI-trained shipped models: also cite BUSI, as the package does).")
    String license;

    @Option(names = "--probabilities", description = "Also output the softmax over classes ('probabilities').")
    boolean probabilities;

    @Option(names = "--force", description = "Overwrite an existing --onnx file.")
    boolean force;

    @Override
    int run() throws Exception {
        if (format == Format.bioimageio) {
            return bioimageio();
        }
        if (onnx == null) {
            throw new Errors.UsageException("--onnx FILE is required with --format onnx");
        }
        Path checkpoint = model.checkpoint();
        if (Files.isDirectory(onnx)) {
            throw new Errors.UsageException("--onnx " + onnx + " is a folder; give a file name such as model.onnx");
        }
        if (Files.exists(onnx) && !force) {
            throw new Errors.UsageException(
                    "--onnx " + onnx + " already exists; choose another file or add --force" + " to overwrite");
        }
        OnnxExporter.Result r = OnnxExporter.exportCheckpoint(checkpoint, onnx, probabilities);
        Map<String, String> meta = r.metadata();
        ObjectMapper m = new ObjectMapper();
        @SuppressWarnings("unchecked")
        Map<String, Object> arch = m.readValue(meta.get("architecture"), Map.class);
        int channels = Integer.parseInt(String.valueOf(arch.getOrDefault("in_channels", "3")));
        int classes = Integer.parseInt(meta.get("classes"));
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("file", r.file().toString());
            o.put("bytes", r.bytes());
            o.put("opset", r.opset());
            o.put("ir_version", OnnxExporter.IR_VERSION);
            o.put("architecture", arch);
            o.put("parameters", r.parameters());
            o.put("nodes", r.nodes());
            o.put("initializers", r.initializers());
            Map<String, Object> in = new LinkedHashMap<>();
            in.put("name", OnnxExporter.INPUT);
            in.put("layout", "NCHW");
            in.put("shape", Arrays.asList("N", channels, "H", "W"));
            in.put("size_multiple", Integer.parseInt(meta.get("size_multiple")));
            o.put("input", in);
            o.put("outputs", r.outputs());
            o.put("output_shape", Arrays.asList("N", classes, "H", "W"));
            if (meta.containsKey("preprocessing")) {
                o.put("preprocessing", m.readValue(meta.get("preprocessing"), Map.class));
            }
            printJson(o);
        } else {
            System.out.printf(
                    Locale.ROOT,
                    "wrote %s (%.1f MB): %s, %,d parameters, %d nodes, ONNX opset %d%n",
                    r.file(),
                    r.bytes() / 1e6,
                    arch.get("arch"),
                    r.parameters(),
                    r.nodes(),
                    r.opset());
            System.out.printf(
                    Locale.ROOT,
                    "input   %-13s float32 NCHW [N, %d, H, W], H and W multiples of %s%n",
                    OnnxExporter.INPUT,
                    channels,
                    meta.get("size_multiple"));
            for (String out : r.outputs()) {
                System.out.printf(Locale.ROOT, "output  %-13s float32 [N, %d, H, W]%n", out, classes);
            }
            System.out.println(
                    meta.containsKey("preprocessing")
                            ? "preprocessing " + meta.get("preprocessing")
                            : "the checkpoint records no preprocessing: inputs must be prepared as in training");
        }
        return 0;
    }

    private int bioimageio() throws Exception {
        if (out == null) {
            throw new Errors.UsageException(
                    "--out FILE is required with --format bioimageio (e.g. model.bioimageio.zip)");
        }
        if (Files.isDirectory(out)) {
            throw new Errors.UsageException(
                    "--out " + out + " is a folder; give a file name such as model.bioimageio.zip");
        }
        if (Files.exists(out) && !force) {
            throw new Errors.UsageException(
                    "--out " + out + " already exists; choose another file or add --force to" + " overwrite");
        }
        Path checkpoint = model.checkpoint();
        Path image = sample;
        Path extracted = null;
        if (image == null) {
            extracted = Files.createTempDirectory("arunet-sample");
            BusiMini.extractTo(extracted);
            image = extracted.resolve(BusiMini.files().stream()
                    .filter(f -> f.startsWith("images/"))
                    .sorted()
                    .findFirst()
                    .orElseThrow(() -> new IllegalStateException("the bundled sample has no images")));
        }
        String stem = Segmenter.stem(Path.of(model.toString()));
        String modelName = name != null
                ? name
                : ("arunet " + stem).length() > 64
                        ? "arunet model"
                        : ("arunet " + stem).length() < 5 ? "arunet model " + stem : "arunet " + stem;
        BioImageIo.Result r;
        try {
            r = BioImageIo.export(
                    checkpoint,
                    out,
                    new BioImageIo.Options(
                            modelName,
                            "ARU-Net (attention residual U-Net)"
                                    + " lesion segmentation of ultrasound images, trained and exported with arunet ("
                                    + stem + ").",
                            license,
                            image));
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(e.getMessage());
        } finally {
            if (extracted != null) {
                try (var s = Files.walk(extracted)) {
                    for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(p);
                    }
                }
            }
        }
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("file", r.zip().toString());
            o.put("bytes", r.bytes());
            o.put("format", "bioimageio");
            o.put("format_version", BioImageIo.FORMAT_VERSION);
            o.put("files", r.files());
            o.put("rdf", r.rdf());
            printJson(o);
        } else {
            System.out.printf(
                    Locale.ROOT,
                    "wrote %s (%.1f MB): bioimage.io model package, format %s: %s%n",
                    r.zip(),
                    r.bytes() / 1e6,
                    BioImageIo.FORMAT_VERSION,
                    String.join(", ", r.files()));
        }
        return 0;
    }
}
