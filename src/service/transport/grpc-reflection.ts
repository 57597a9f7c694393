import { create, type DescFile, toBinary } from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { loadFileDescriptorSetFromBuffer, type PackageDefinition } from "@grpc/proto-loader";
import { healthFileDescriptor } from "./health-descriptor.js";

/**
 * The package definition @grpc/reflection answers from: the given file and
 * its imports, from the descriptors protobuf-es embeds in the generated code
 * (so no .proto file is read at run time), plus grpc.health.v1 so that
 * grpcurl and `buf curl` can call Check as well.
 */
export function reflectionPackageDefinition(file: DescFile): PackageDefinition {
  const files = [...withDependencies(file), healthFileDescriptor];
  const set = toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: files }));
  const definition = loadFileDescriptorSetFromBuffer(Buffer.from(set));

  // proto-loader (through protobufjs) regroups the types into one file per
  // package, drops the imports and writes relative type names
  // (grpc/grpc-node#2595), so a client cannot rebuild the schema from what
  // reflection would serve: `buf curl` fails with "failed to find service".
  // @grpc/reflection only reads the entries' fileDescriptorProtos, so hand it
  // the original files, intact.
  const original = files.map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f)));
  for (const entry of Object.values(definition)) {
    if ("fileDescriptorProtos" in entry) entry.fileDescriptorProtos = original;
  }
  return definition;
}

/** The file and everything it imports, each once, dependencies before dependents. */
function withDependencies(file: DescFile): FileDescriptorProto[] {
  const files: FileDescriptorProto[] = [];
  const seen = new Set<string>();
  const visit = (f: DescFile) => {
    if (seen.has(f.proto.name)) return;
    seen.add(f.proto.name);
    for (const dependency of f.dependencies) visit(dependency);
    files.push(f.proto);
  };
  visit(file);
  return files;
}
