// The Kubernetes objects, parsed from literal API JSON: Deployments (and when a rollout is
// in progress), EndpointSlices (which endpoints are ready), Pods (which are pending).
#include <gtest/gtest.h>

#include "sidecar/kube_objects.h"

namespace turbine::autoscaler {
namespace {

TEST(Deployment, ParsesSpecStatusAndSelector) {
  auto d = parse_deployment(R"({
    "metadata": {"name": "turbine", "uid": "u-1", "generation": 7},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "turbine", "tier": "llm"}}},
    "status": {"observedGeneration": 7, "replicas": 3, "updatedReplicas": 3,
               "readyReplicas": 2, "availableReplicas": 2, "unavailableReplicas": 1}})");
  ASSERT_TRUE(d.ok()) << d.error();
  EXPECT_EQ(d->uid, "u-1");
  EXPECT_EQ(d->spec_replicas, 3);
  EXPECT_EQ(d->ready_replicas, 2);
  EXPECT_EQ(label_selector(d->match_labels), "app=turbine,tier=llm");
  EXPECT_EQ(rollout_reason(*d), "");  // a pod not ready yet is not a rollout
  EXPECT_FALSE(parse_deployment("{not json").ok());
}

TEST(Deployment, RolloutReasons) {
  DeploymentInfo d;
  d.generation = 5;
  d.observed_generation = 5;
  d.spec_replicas = 4;
  d.status_replicas = 4;
  d.updated_replicas = 4;
  EXPECT_EQ(rollout_reason(d), "");
  d.observed_generation = 4;
  EXPECT_NE(rollout_reason(d).find("not yet observed generation 5"), std::string::npos);
  d.observed_generation = 5;
  d.updated_replicas = 2;
  d.status_replicas = 5;
  EXPECT_NE(rollout_reason(d).find("2 of 4 pods updated"), std::string::npos);
  d.updated_replicas = 4;
  d.unavailable_replicas = 1;
  EXPECT_NE(rollout_reason(d).find("1 old pods still running (1 unavailable)"), std::string::npos);
}

TEST(EndpointSlices, ReadyDeduplicatedWithPodNames) {
  auto eps = parse_endpoint_slices(R"({"items": [
    {"endpoints": [
      {"addresses": ["10.0.0.1"], "conditions": {"ready": true},
       "targetRef": {"kind": "Pod", "name": "turbine-a"}},
      {"addresses": ["10.0.0.2"], "conditions": {"ready": false, "terminating": true},
       "targetRef": {"kind": "Pod", "name": "turbine-b"}},
      {"addresses": ["10.0.0.3"]}
    ]},
    {"endpoints": [
      {"addresses": ["10.0.0.1"], "conditions": {"ready": true},
       "targetRef": {"kind": "Pod", "name": "turbine-a"}}
    ]},
    {"endpoints": null},
    {}
  ]})");
  ASSERT_TRUE(eps.ok()) << eps.error();
  ASSERT_EQ(eps->size(), 2u);
  EXPECT_EQ((*eps)[0].ip, "10.0.0.1");
  EXPECT_EQ((*eps)[0].pod, "turbine-a");
  EXPECT_EQ((*eps)[1].ip, "10.0.0.3");
  EXPECT_EQ((*eps)[1].pod, "10.0.0.3");  // no targetRef: named by address
  auto empty = parse_endpoint_slices(R"({"items": []})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE(parse_endpoint_slices("[").ok());
}

TEST(Pods, PendingCountSkipsDeletedPods) {
  auto n = count_pending_pods(R"({"items": [
    {"status": {"phase": "Pending"}},
    {"status": {"phase": "Running"}},
    {"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}, "status": {"phase": "Pending"}},
    {"status": {"phase": "Pending"}}
  ]})");
  ASSERT_TRUE(n.ok()) << n.error();
  EXPECT_EQ(*n, 2);
  EXPECT_FALSE(count_pending_pods("nope").ok());
}

}  // namespace
}  // namespace turbine::autoscaler
