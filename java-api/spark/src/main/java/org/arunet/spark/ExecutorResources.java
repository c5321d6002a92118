package org.arunet.spark;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;

/** What an executor has: its cores and task slots (for the model's threads and replicas), and its task's GPU. */
final class ExecutorResources {
    private ExecutorResources() {}

    private static final Pattern LOCAL_N = Pattern.compile("local\\[(\\*|\\d+)(?:,\\s*\\d+)?]");
    private static final Pattern LOCAL_CLUSTER = Pattern.compile("local-cluster\\[\\s*\\d+\\s*,\\s*(\\d+)\\s*,.*]");

    /**
     * The executor's cores: {@code spark.executor.cores} where set; else what the master gives each
     * executor ({@code local[N]}: N; {@code local-cluster[n, c, m]}: c; YARN: 1, its default; standalone
     * and Kubernetes without the setting: every core of the machine, {@code processors}).
     */
    static int executorCores(SparkConf conf, int processors) {
        if (conf.contains("spark.executor.cores")) {
            return Math.max(1, conf.getInt("spark.executor.cores", 1));
        }
        String master = conf.get("spark.master", "local[*]").trim();
        if (master.equals("local")) {
            return 1;
        }
        Matcher m = LOCAL_N.matcher(master);
        if (m.matches()) {
            return m.group(1).equals("*") ? processors : Math.max(1, Integer.parseInt(m.group(1)));
        }
        m = LOCAL_CLUSTER.matcher(master);
        if (m.matches()) {
            return Math.max(1, Integer.parseInt(m.group(1)));
        }
        if (master.startsWith("yarn")) {
            return 1;
        }
        return processors;
    }

    /** Tasks that run at once in an executor: its cores over {@code spark.task.cpus}. */
    static int taskSlots(SparkConf conf, int processors) {
        int taskCpus = Math.max(1, conf.getInt("spark.task.cpus", 1));
        return Math.max(1, executorCores(conf, processors) / taskCpus);
    }

    /**
     * The device a task runs its model on. A task that Spark gave a GPU ({@code gpuAddresses}, from
     * {@code TaskContext.resources()}) uses it ({@code cuda}, or the option's {@code cuda:<precision>}),
     * unless the option says {@code cpu}; a task without one uses the option. arunet's CUDA backend
     * runs on the first GPU the process sees (device 0), so the task's GPU must be that one: address
     * {@code 0}, or the only entry of {@code CUDA_VISIBLE_DEVICES} (one GPU per executor, the usual setup
     * on Kubernetes and YARN, see docs/SCALE-OUT.md). Anything else is refused rather than run on another
     * task's GPU.
     */
    static String deviceFor(String option, String[] gpuAddresses, String cudaVisibleDevices) {
        String d = option.toLowerCase(Locale.ROOT);
        if (d.equals("cpu") || gpuAddresses == null || gpuAddresses.length == 0) {
            return option;
        }
        if (gpuAddresses.length > 1) {
            throw new IllegalStateException("this task was given " + gpuAddresses.length + " GPUs ("
                    + String.join(", ", gpuAddresses) + "); arunet runs a task on one: set"
                    + " spark.task.resource.gpu.amount to 1 or less");
        }
        String a = gpuAddresses[0].trim();
        String visible = cudaVisibleDevices == null ? "" : cudaVisibleDevices.trim();
        boolean firstVisible = a.equals("0") || (!visible.isEmpty() && !visible.contains(",") && visible.equals(a));
        if (!firstVisible) {
            throw new IllegalStateException("this task was given GPU " + a + " but arunet's CUDA backend uses the"
                    + " first GPU the executor sees (CUDA_VISIBLE_DEVICES=" + (visible.isEmpty() ? "unset" : visible)
                    + "): give each executor one GPU (spark.executor.resource.gpu.amount=1) that it sees as device 0"
                    + " (docs/SCALE-OUT.md, GPU executors)");
        }
        return d.startsWith("cuda") ? option : "cuda";
    }
}
