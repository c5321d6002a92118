package org.arunet.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.arunet.onnx.OnnxExporter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "export", mixinStandardHelpOptions = true, showDefaultValues = true, usageHelpAutoWidth = true,
        description = {"Write a checkpoint's model with its weights as ONNX (opset " + OnnxExporter.OPSET + "), for"
                + " ONNX Runtime or any other ONNX consumer.",
            "Input 'image': float32 NCHW [N, C, H, W], N, H and W dynamic (H and W multiples of 16), preprocessed"
                + " as in training (the 'preprocessing' metadata of the file records how). Output 'logits':"
                + " float32 [N, classes, H, W]; with --probabilities also 'probabilities' (softmax over classes)."
                + " BatchNorm uses its running statistics. Metadata: arunet version, architecture, preprocessing."})
final class ExportCommand extends BaseCommand {
    @Mixin
    ModelRef model = new ModelRef();

    @Option(names = "--onnx", paramLabel = "FILE", required = true, description = "ONNX file to write.")
    Path onnx;

    @Option(names = "--probabilities", description = "Also output the softmax over classes ('probabilities').")
    boolean probabilities;

    @Option(names = "--force", description = "Overwrite an existing --onnx file.")
    boolean force;

    @Override
    int run() throws Exception {
        Path checkpoint = model.checkpoint();
        if (Files.isDirectory(onnx)) {
            throw new Errors.UsageException("--onnx " + onnx + " is a folder; give a file name such as model.onnx");
        }
        if (Files.exists(onnx) && !force) {
            throw new Errors.UsageException("--onnx " + onnx + " already exists; choose another file or add --force"
                    + " to overwrite");
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
            System.out.printf(Locale.ROOT, "wrote %s (%.1f MB): %s, %,d parameters, %d nodes, ONNX opset %d%n",
                    r.file(), r.bytes() / 1e6, arch.get("arch"), r.parameters(), r.nodes(), r.opset());
            System.out.printf(Locale.ROOT, "input   %-13s float32 NCHW [N, %d, H, W], H and W multiples of %s%n",
                    OnnxExporter.INPUT, channels, meta.get("size_multiple"));
            for (String out : r.outputs()) {
                System.out.printf(Locale.ROOT, "output  %-13s float32 [N, %d, H, W]%n", out, classes);
            }
            System.out.println(meta.containsKey("preprocessing") ? "preprocessing " + meta.get("preprocessing")
                    : "the checkpoint records no preprocessing: inputs must be prepared as in training");
        }
        return 0;
    }
}
