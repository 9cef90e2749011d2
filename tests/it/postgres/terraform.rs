//! Real Terraform installs through one replica while another replica is pulling the same
//! package through: the follower waits for the leader's verified, stored package.

use std::time::Duration;

use super::cluster::Cluster;
use crate::common::fake_registry::{FakeRegistry, Fault, Target};
use crate::common::h1_reference;
use crate::terraform::{NULL_TF, Workspace, stored_zip, terraforms, tool};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_installs_through_one_replica_while_another_pulls_the_package_through() {
    let null_bin = std::fs::read(tool("terraform-provider-null_v2.1.2_x4")).unwrap();
    let null_zip = stored_zip("terraform-provider-null_v2.1.2_x4", &null_bin);
    let fake = FakeRegistry::start().await;
    fake.publish_zip(
        "hashicorp",
        "null",
        "2.1.2",
        "linux_amd64",
        null_zip.clone(),
    );
    let archive = Target::Archive {
        namespace: "hashicorp".into(),
        ptype: "null".into(),
        version: "2.1.2".into(),
        platform: "linux_amd64".into(),
    };
    // The origin takes its time: Terraform asks replica 0 while replica 1's download runs.
    fake.inject(archive.clone(), Fault::Delay(Duration::from_secs(3)), 1);
    let cluster = Cluster::start_first_on_tls(2, &fake.base_url, "").await;

    let leader = {
        let client = cluster.client.clone();
        let url = cluster.replicas[1].url(
            "/registry.terraform.io/hashicorp/null/terraform-provider-null_2.1.2_linux_amd64.zip",
        );
        tokio::spawn(async move {
            let res = client.get(url).send().await.unwrap();
            assert!(res.status().is_success());
            res.bytes().await.unwrap().len()
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fake.hits(archive.clone()) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "replica 1 never asked the origin"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mirror_url = format!("{}/", cluster.replicas[0].base);
    let bundle = cluster.replicas[0].ca_file();
    let h1 = h1_reference(&null_zip);
    for (version, terraform) in terraforms() {
        let ws = Workspace::new(&bundle, &mirror_url, NULL_TF);
        let h1 = h1.clone();
        tokio::task::spawn_blocking(move || {
            let (ok, log) = ws.run(&terraform, &["init", "-input=false"]);
            assert!(ok, "terraform {version} init failed:\n{log}");
            assert!(ws.lock_file().contains(&h1), "{}", ws.lock_file());
        })
        .await
        .unwrap();
    }
    assert_eq!(leader.await.unwrap(), null_zip.len());
    assert_eq!(
        fake.hits(archive),
        1,
        "one upstream download for both replicas"
    );
}
