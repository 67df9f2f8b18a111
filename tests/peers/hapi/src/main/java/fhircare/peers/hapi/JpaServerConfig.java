package fhircare.peers.hapi;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.config.SubscriptionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import ca.uhn.fhir.jpa.validation.ValidationSettings;
import jakarta.persistence.EntityManagerFactory;
import java.util.HashMap;
import java.util.Map;
import javax.sql.DataSource;
import org.hibernate.boot.model.naming.CamelCaseToUnderscoresNamingStrategy;
import org.hibernate.cfg.AvailableSettings;
import org.hibernate.search.mapper.orm.cfg.HibernateOrmMapperSettings;
import org.hl7.fhir.r5.utils.validation.constants.ReferenceValidationPolicy;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.orm.jpa.hibernate.SpringImplicitNamingStrategy;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

/**
 * The JPA server's Spring wiring for R4: HAPI's own configurations, plus the beans they expect
 * the application to supply (storage, partition and subscription settings, the entity manager
 * factory on the H2 {@link DataSource} Spring Boot builds from {@code spring.datasource.*}).
 *
 * <p>Batch2 is imported because the R4 configuration's operations ($merge, $reindex) and the
 * terminology service depend on its job coordinator, which needs the in-process message broker
 * of {@link SubscriptionChannelConfig} (despite the name, no subscription is matched or sent);
 * the subscription, MDM and clinical-reasoning configurations are not imported.
 */
@Configuration
@Import({
	JpaR4Config.class,
	HapiJpaConfig.class,
	JpaBatch2Config.class,
	Batch2JobsConfig.class,
	SubscriptionChannelConfig.class,
	ThreadPoolFactoryConfig.class
})
public class JpaServerConfig {

	/**
	 * HAPI's defaults, spelled out where a Synthea load or a sync test depends on them, and one
	 * change for the sync tests.
	 *
	 * <ul>
	 *   <li>Changed: no reuse of cached search results. HAPI otherwise answers a search identical to
	 *       one of the last 60 s from that earlier result, so a search right after a write would
	 *       not see it; fhircare caches nothing, and a sync peer must show its writes at once.
	 *   <li>Client-assigned ids on PUT: alphanumeric ones, UUIDs included; purely numeric ones are
	 *       refused (they could collide with HAPI's own sequential ids).
	 *   <li>Deletes on, one resource per conditional delete; history keeps the deleted versions.
	 *   <li>A reference to a resource that does not exist is refused on write, and a resource
	 *       still referenced cannot be deleted; no placeholder targets are made.
	 *   <li>Conditional references (match URLs) resolved in transactions.
	 * </ul>
	 */
	@Bean
	public JpaStorageSettings jpaStorageSettings() {
		JpaStorageSettings settings = new JpaStorageSettings();
		settings.setReuseCachedSearchResultsForMillis(null);
		settings.setResourceClientIdStrategy(JpaStorageSettings.ClientIdStrategyEnum.ALPHANUMERIC);
		settings.setDeleteEnabled(true);
		settings.setAllowMultipleDelete(false);
		settings.setEnforceReferentialIntegrityOnWrite(true);
		settings.setEnforceReferentialIntegrityOnDelete(true);
		settings.setAutoCreatePlaceholderReferenceTargets(false);
		settings.setAllowInlineMatchUrlReferences(true);
		settings.setAdvancedHSearchIndexing(false);
		return settings;
	}

	/**
	 * {@code $validate} checks each reference's target type against the profile's
	 * {@code targetProfile}: the type of the resource when this server holds it, else the type its
	 * URL names ({@code Group/x}). HAPI's default ignores references altogether, which would leave a
	 * profile's reference constraints unchecked. The validation support chain itself
	 * (StructureDefinitions, ValueSets and CodeSystems stored here, snapshots generated from
	 * differentials, the core R4 definitions) is HAPI's own, from {@code JpaConfig}; writes stay
	 * unvalidated, as no request-validating interceptor is registered. A post-processor sets it, as
	 * the settings bean is HAPI's ({@code JpaConfig.validationSettings}) and the configurations
	 * refer to each other.
	 */
	@Bean
	public static BeanPostProcessor checkReferenceTypesOnValidate() {
		return new BeanPostProcessor() {
			@Override
			public Object postProcessAfterInitialization(Object bean, String beanName) {
				if (bean instanceof ValidationSettings settings) {
					settings.setLocalReferenceValidationDefaultPolicy(ReferenceValidationPolicy.CHECK_TYPE_IF_EXISTS);
				}
				return bean;
			}
		};
	}

	@Bean
	public PartitionSettings partitionSettings() {
		return new PartitionSettings();
	}

	/** No channel types: subscriptions stay off. */
	@Bean
	public SubscriptionSettings subscriptionSettings() {
		return new SubscriptionSettings();
	}

	@Primary
	@Bean
	public LocalContainerEntityManagerFactoryBean entityManagerFactory(
			ConfigurableListableBeanFactory beanFactory,
			FhirContext fhirContext,
			JpaStorageSettings storageSettings,
			DataSource dataSource) {
		LocalContainerEntityManagerFactoryBean factory =
				HapiEntityManagerFactoryUtil.newEntityManagerFactory(beanFactory, fhirContext, storageSettings);
		Map<String, Object> properties = new HashMap<>();
		properties.put(AvailableSettings.DIALECT, HapiFhirH2Dialect.class.getName());
		properties.put(AvailableSettings.HBM2DDL_AUTO, "update");
		properties.put(AvailableSettings.SCANNER, "org.hibernate.boot.archive.scan.internal.DisabledScanner");
		properties.put(AvailableSettings.IMPLICIT_NAMING_STRATEGY, SpringImplicitNamingStrategy.class.getName());
		properties.put(
				AvailableSettings.PHYSICAL_NAMING_STRATEGY, CamelCaseToUnderscoresNamingStrategy.class.getName());
		properties.put(AvailableSettings.STATEMENT_BATCH_SIZE, "20");
		properties.put(AvailableSettings.USE_QUERY_CACHE, "false");
		properties.put(AvailableSettings.USE_SECOND_LEVEL_CACHE, "false");
		properties.put(AvailableSettings.FORMAT_SQL, "false");
		properties.put(AvailableSettings.SHOW_SQL, "false");
		properties.put(HibernateOrmMapperSettings.ENABLED, "false");
		factory.setPersistenceUnitName("HAPI_PU");
		factory.setJpaPropertyMap(properties);
		factory.setDataSource(dataSource);
		return factory;
	}

	@Primary
	@Bean
	public JpaTransactionManager transactionManager(EntityManagerFactory entityManagerFactory) {
		return new JpaTransactionManager(entityManagerFactory);
	}
}
