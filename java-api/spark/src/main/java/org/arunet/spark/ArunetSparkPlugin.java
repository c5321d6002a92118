package org.arunet.spark;

import java.util.Map;
import org.apache.spark.api.plugin.DriverPlugin;
import org.apache.spark.api.plugin.ExecutorPlugin;
import org.apache.spark.api.plugin.SparkPlugin;

/**
 * Frees the executor's models when the executor stops: {@code --conf
 * spark.plugins=org.arunet.spark.ArunetSparkPlugin} ({@link SegmentJob} sets it). Spark calls the
 * executor plugin's {@code shutdown} when the executor (or, in {@code local} mode, the context) stops,
 * before the JVM exits; the JVM shutdown hook of {@link ExecutorModels} is the fallback when the plugin
 * is not configured. Nothing runs on the driver.
 */
public final class ArunetSparkPlugin implements SparkPlugin {
    @Override
    public DriverPlugin driverPlugin() {
        return null;
    }

    @Override
    public ExecutorPlugin executorPlugin() {
        return new ExecutorPlugin() {
            @Override
            public void init(org.apache.spark.api.plugin.PluginContext ctx, Map<String, String> extraConf) {
                // models are loaded by the first task that needs one
            }

            @Override
            public void shutdown() {
                ExecutorModels.closeAll();
            }
        };
    }
}
