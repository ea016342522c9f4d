/// The version of the toolkit, shared by the three command-line tools and written into files.
public enum ToolkitVersion {
  public static let string = "0.1.0"
}
