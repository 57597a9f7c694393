import { create, type DescFile, toBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { loadFileDescriptorSetFromBuffer, type PackageDefinition } from "@grpc/proto-loader";

/**
 * The package definition @grpc/reflection answers from, built from the
 * descriptors protobuf-es embeds in the generated code, so reflection works
 * with no .proto file on disk. Dependencies come before their dependents, each
 * file once, as a FileDescriptorSet expects.
 */
export function reflectionPackageDefinition(file: DescFile): PackageDefinition {
  const files: FileDescriptorProto[] = [];
  const seen = new Set<string>();
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    for (const dependency of f.dependencies) visit(dependency);
    files.push(f.proto);
  };
  visit(file);
  const set = toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: files }));
  return loadFileDescriptorSetFromBuffer(Buffer.from(set));
}
