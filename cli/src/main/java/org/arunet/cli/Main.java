package org.arunet.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.arunet.train.Version;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code arunet} command. Exit codes: 0 success, 2 usage error (with the usage text), 1 failure
 * (one message; the stack trace only with {@code --verbose}).
 */
@Command(
        name = "arunet",
        mixinStandardHelpOptions = true,
        versionProvider = Main.VersionProvider.class,
        description = "ARU-Net lesion segmentation for ultrasound images: train, evaluate, segment, benchmark.",
        subcommands = {
            TrainCommand.class,
            EvalCommand.class,
            PredictCommand.class,
            SplitCommand.class,
            InfoCommand.class,
            ExportCommand.class,
            PackModelCommand.class,
            BenchCommand.class,
            DemoCommand.class,
            CommandLine.HelpCommand.class
        },
        usageHelpAutoWidth = true,
        showDefaultValues = true)
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Runs the command line and returns the exit code. */
    public static int run(String... args) {
        boolean verbose = false;
        boolean json = false;
        Path config = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--verbose") || args[i].equals("-v")) {
                verbose = true;
            } else if (args[i].equals("--json")) {
                json = true;
            } else if (args[i].equals("--config") && i + 1 < args.length) {
                config = Path.of(args[i + 1]);
            } else if (args[i].startsWith("--config=")) {
                config = Path.of(args[i].substring("--config=".length()));
            }
        }
        Logging.configure(verbose, json);
        CommandLine cl = new CommandLine(new Main());
        cl.setUsageHelpAutoWidth(true);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> Errors.report(ex, cmd, parsed));
        ConfigFile configFile = null;
        if (config != null) {
            if (!Files.isRegularFile(config)) {
                System.err.println("arunet: --config " + config + ": no such file");
                return 2;
            }
            try {
                configFile = ConfigFile.load(config);
            } catch (IllegalArgumentException e) {
                System.err.println("arunet: " + e.getMessage());
                return 2;
            }
            cl.setDefaultValueProvider(configFile);
        }
        ConfigFile defaults = configFile;
        cl.setParameterExceptionHandler((ex, cmdArgs) -> {
            CommandLine c = ex.getCommandLine();
            PrintWriter err = c.getErr();
            // A bad value that came from the config file, not the command line: say where it is.
            boolean fromFile = defaults != null
                    && ex.getArgSpec() instanceof CommandLine.Model.OptionSpec o
                    && defaults.provides(o)
                    && Arrays.stream(cmdArgs).noneMatch(a -> Arrays.stream(o.names())
                            .anyMatch(n -> a.equals(n) || a.startsWith(n + "=")));
            err.println("arunet: " + (fromFile ? "--config " + defaults.file() + ": " : "") + ex.getMessage());
            c.usage(err);
            return 2;
        });
        return cl.execute(args);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Version string for {@code --version}. */
    static final class VersionProvider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {"arunet " + Version.get() + " (Java " + System.getProperty("java.version") + ")"};
        }
    }
}
