package org.arunet.cli;

import java.util.Locale;
import org.arunet.backend.Precision;
import org.arunet.nn.ChannelAttention;
import org.arunet.nn.Init;
import org.arunet.train.LossKind;
import org.arunet.train.Recipe;
import picocli.CommandLine;

/** Lower-case, dash-separated names for enum options ("attention-unet", "ce-dice"). */
final class EnumConverters {
    private EnumConverters() {}

    static <E extends Enum<E>> E parse(Class<E> type, String value) {
        String v = value.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(v)) {
                return e;
            }
        }
        StringBuilder known = new StringBuilder();
        for (E e : type.getEnumConstants()) {
            known.append(known.length() == 0 ? "" : ", ")
                    .append(e.name().toLowerCase(Locale.ROOT).replace('_', '-'));
        }
        throw new CommandLine.TypeConversionException("'" + value + "' is not one of " + known);
    }

    static final class ArchConverter implements CommandLine.ITypeConverter<ModelOptions.Arch> {
        public ModelOptions.Arch convert(String v) {
            return parse(ModelOptions.Arch.class, v);
        }
    }

    static final class PresetConverter implements CommandLine.ITypeConverter<ModelOptions.Preset> {
        public ModelOptions.Preset convert(String v) {
            return parse(ModelOptions.Preset.class, v);
        }
    }

    static final class CaConverter implements CommandLine.ITypeConverter<ChannelAttention.Kind> {
        public ChannelAttention.Kind convert(String v) {
            return parse(ChannelAttention.Kind.class, v);
        }
    }

    static final class InitConverter implements CommandLine.ITypeConverter<Init.Scheme> {
        public Init.Scheme convert(String v) {
            return parse(Init.Scheme.class, v);
        }
    }

    static final class PrecisionConverter implements CommandLine.ITypeConverter<Precision> {
        public Precision convert(String v) {
            return parse(Precision.class, v);
        }
    }

    static final class RecipeConverter implements CommandLine.ITypeConverter<Recipe> {
        public Recipe convert(String v) {
            return parse(Recipe.class, v);
        }
    }

    static final class LossConverter implements CommandLine.ITypeConverter<LossKind> {
        public LossKind convert(String v) {
            return parse(LossKind.class, v);
        }
    }
}
