/**
 * Reading and writing safetensors files, the weight format of Hugging Face checkpoints.
 *
 * <p>{@link io.github.quipsharp.safetensors.SafetensorsFile} checks a file's whole header on open
 * and memory-maps tensors one at a time, so weights never pass through the Java heap; {@link
 * io.github.quipsharp.safetensors.SafetensorsWriter} stages tensors and commits a complete file by
 * an atomic rename, byte-identical for the same tensors and metadata. Offsets in {@link
 * io.github.quipsharp.safetensors.TensorInfo} are absolute file offsets; error messages quote the
 * header's own {@code data_offsets}, which count from the data section. A bad file is always an
 * {@link io.github.quipsharp.ModelFormatException} naming the file and the tensor.
 */
package io.github.quipsharp.safetensors;
