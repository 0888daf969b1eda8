package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpCuda;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.cuda.global.cudart;

/**
 * A CUDA device: name, memory and the theoretical peak memory bandwidth computed from its attributes
 * (2 × memory clock × bus width / 8). Discovery goes through the JavaCPP CUDA preset
 * ({@code org.bytedeco:cuda}) where its runtime library (libcudart) is installed; otherwise through
 * the quipsharp CUDA engine itself, whose static cudart needs only the driver. Where neither finds a
 * device (no driver, no GPU, or a build without the CUDA engine) {@link #isAvailable()} is false and
 * {@link #list()} is empty; nothing here throws or crashes for lack of a GPU.
 */
public final class CudaDevice {
  private static volatile List<CudaDevice> devices;
  private static volatile String unavailableReason = "";

  private final int index;
  private final String name;
  private final long totalMemoryBytes;
  private final int multiprocessors;
  private final int computeMajor;
  private final int computeMinor;
  private final double peakGBytesPerSecond;
  private final String discoveredBy;

  private CudaDevice(int index, String name, long totalMemoryBytes, int multiprocessors, int major,
      int minor, double peakGBytesPerSecond, String discoveredBy) {
    this.index = index;
    this.name = name;
    this.totalMemoryBytes = totalMemoryBytes;
    this.multiprocessors = multiprocessors;
    this.computeMajor = major;
    this.computeMinor = minor;
    this.peakGBytesPerSecond = peakGBytesPerSecond;
    this.discoveredBy = discoveredBy;
  }

  /** Whether at least one CUDA device is usable. */
  public static boolean isAvailable() {
    return !list().isEmpty();
  }

  /** The usable devices (empty without a driver or GPU); discovered once per JVM. */
  public static List<CudaDevice> list() {
    List<CudaDevice> d = devices;
    if (d == null) {
      synchronized (CudaDevice.class) {
        d = devices;
        if (d == null) {
          d = Collections.unmodifiableList(discover());
          devices = d;
        }
      }
    }
    return d;
  }

  /** Device {@code index}; a {@link QuipsharpException} saying why when there is no such device. */
  public static CudaDevice get(int index) {
    List<CudaDevice> all = list();
    if (all.isEmpty()) {
      throw new QuipsharpException("no CUDA device: " + unavailableReason);
    }
    if (index < 0 || index >= all.size()) {
      throw new IllegalArgumentException(
          "CUDA device index " + index + " is outside [0, " + all.size() + ")");
    }
    return all.get(index);
  }

  /** Why {@link #list()} is empty ("" when it is not). */
  public static String unavailableReason() {
    list();
    return unavailableReason;
  }

  private static List<CudaDevice> discover() {
    StringBuilder why = new StringBuilder();
    List<CudaDevice> viaPreset = discoverWithPreset(why);
    // The engine must see the same devices to run on them; it is also the fallback where the
    // preset's libcudart is not installed.
    List<CudaDevice> viaEngine = discoverWithEngine(why);
    List<CudaDevice> result = !viaPreset.isEmpty() && viaPreset.size() == viaEngine.size()
        ? viaPreset : viaEngine;
    unavailableReason = result.isEmpty() ? why.toString() : "";
    return result;
  }

  private static List<CudaDevice> discoverWithPreset(StringBuilder why) {
    List<CudaDevice> out = new ArrayList<>();
    try {
      org.bytedeco.javacpp.Loader.load(cudart.class);
      int[] count = {0};
      int status = cudart.cudaGetDeviceCount(count);
      if (status != cudart.cudaSuccess) {
        why.append("JavaCPP CUDA preset: cudaGetDeviceCount returned ").append(status).append("; ");
        return out;
      }
      for (int i = 0; i < count[0]; i++) {
        try (cudaDeviceProp prop = new cudaDeviceProp()) {
          if (cudart.cudaGetDeviceProperties(prop, i) != cudart.cudaSuccess) {
            continue;
          }
          int[] clockKhz = {0};
          int[] busBits = {0};
          cudart.cudaDeviceGetAttribute(clockKhz, cudart.cudaDevAttrMemoryClockRate, i);
          cudart.cudaDeviceGetAttribute(busBits, cudart.cudaDevAttrGlobalMemoryBusWidth, i);
          out.add(new CudaDevice(i, prop.name().getString(), prop.totalGlobalMem(),
              prop.multiProcessorCount(), prop.major(), prop.minor(),
              peak(clockKhz[0], busBits[0]), "org.bytedeco:cuda"));
        }
      }
    } catch (Throwable e) { // UnsatisfiedLinkError, NoClassDefFoundError: no libcudart here
      why.append("JavaCPP CUDA preset unavailable (").append(e).append("); ");
      out.clear();
    }
    return out;
  }

  private static List<CudaDevice> discoverWithEngine(StringBuilder why) {
    List<CudaDevice> out = new ArrayList<>();
    try {
      CudaCalls.ensureLoaded();
      int[] count = {0};
      CudaCalls.check(QuipsharpCuda.qs_cuda_device_count(count), "CudaDevice.list");
      if (count[0] == 0) {
        why.append("quipsharp CUDA engine: ").append(CudaCalls.lastError());
      }
      for (int i = 0; i < count[0]; i++) {
        try (QuipsharpCuda.qs_cuda_device d = new QuipsharpCuda.qs_cuda_device()) {
          CudaCalls.check(QuipsharpCuda.qs_cuda_device_info(i, d), "CudaDevice.list");
          out.add(new CudaDevice(i, d.name().getString(), d.total_bytes(), d.sm_count(),
              d.cc_major(), d.cc_minor(), peak(d.memory_clock_khz(), d.bus_width_bits()),
              "quipsharp CUDA engine"));
        }
      }
    } catch (RuntimeException | LinkageError e) {
      why.append("quipsharp CUDA engine: ").append(e.getMessage());
      out.clear();
    }
    return out;
  }

  /** 2 (double data rate) × clock × bus width / 8, in GB/s. */
  static double peak(int memoryClockKhz, int busWidthBits) {
    return 2.0 * memoryClockKhz * 1e3 * (busWidthBits / 8.0) / 1e9;
  }

  public int index() {
    return index;
  }

  public String name() {
    return name;
  }

  public long totalMemoryBytes() {
    return totalMemoryBytes;
  }

  public int multiprocessors() {
    return multiprocessors;
  }

  /** Compute capability, e.g. "9.0". */
  public String computeCapability() {
    return computeMajor + "." + computeMinor;
  }

  /** Theoretical peak memory bandwidth in GB/s, from the memory clock and bus width attributes. */
  public double peakGBytesPerSecond() {
    return peakGBytesPerSecond;
  }

  /** "org.bytedeco:cuda" or "quipsharp CUDA engine". */
  public String discoveredBy() {
    return discoveredBy;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CudaDevice && ((CudaDevice) o).index == index
        && ((CudaDevice) o).name.equals(name);
  }

  @Override
  public int hashCode() {
    return Objects.hash(index, name);
  }

  @Override
  public String toString() {
    return String.format("CudaDevice[%d: %s, %.1f GiB, %d SMs, sm_%d%d, peak %.0f GB/s]", index, name,
        totalMemoryBytes / 1073741824.0, multiprocessors, computeMajor, computeMinor,
        peakGBytesPerSecond);
  }
}
