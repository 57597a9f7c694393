import { create } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";

const PKG = ".grpc.health.v1";

/**
 * grpc/health/v1/health.proto (the version grpc-health-check 2.x serves:
 * Check, Watch, List) as a descriptor, for reflection. Written out here
 * because the copy proto-loader produces from the package's .proto uses
 * relative type names that `buf curl` cannot resolve, and one unreadable
 * file fails `--list-methods` for the whole server.
 */
export const healthFileDescriptor: FileDescriptorProto = create(FileDescriptorProtoSchema, {
  name: "grpc/health/v1/health.proto",
  package: "grpc.health.v1",
  syntax: "proto3",
  options: { goPackage: "google.golang.org/grpc/health/grpc_health_v1" },
  messageType: [
    { name: "HealthListRequest" },
    {
      name: "HealthListResponse",
      field: [
        {
          name: "statuses",
          number: 1,
          label: Label.REPEATED,
          type: Type.MESSAGE,
          typeName: `${PKG}.HealthListResponse.StatusesEntry`,
          jsonName: "statuses",
        },
      ],
      nestedType: [
        {
          name: "StatusesEntry",
          options: { mapEntry: true },
          field: [
            { name: "key", number: 1, label: Label.OPTIONAL, type: Type.STRING, jsonName: "key" },
            {
              name: "value",
              number: 2,
              label: Label.OPTIONAL,
              type: Type.MESSAGE,
              typeName: `${PKG}.HealthCheckResponse`,
              jsonName: "value",
            },
          ],
        },
      ],
    },
    {
      name: "HealthCheckRequest",
      field: [{ name: "service", number: 1, label: Label.OPTIONAL, type: Type.STRING, jsonName: "service" }],
    },
    {
      name: "HealthCheckResponse",
      field: [
        {
          name: "status",
          number: 1,
          label: Label.OPTIONAL,
          type: Type.ENUM,
          typeName: `${PKG}.HealthCheckResponse.ServingStatus`,
          jsonName: "status",
        },
      ],
      enumType: [
        {
          name: "ServingStatus",
          value: [
            { name: "UNKNOWN", number: 0 },
            { name: "SERVING", number: 1 },
            { name: "NOT_SERVING", number: 2 },
            { name: "SERVICE_UNKNOWN", number: 3 },
          ],
        },
      ],
    },
  ],
  service: [
    {
      name: "Health",
      method: [
        { name: "Check", inputType: `${PKG}.HealthCheckRequest`, outputType: `${PKG}.HealthCheckResponse` },
        {
          name: "Watch",
          inputType: `${PKG}.HealthCheckRequest`,
          outputType: `${PKG}.HealthCheckResponse`,
          serverStreaming: true,
        },
        { name: "List", inputType: `${PKG}.HealthListRequest`, outputType: `${PKG}.HealthListResponse` },
      ],
    },
  ],
});
